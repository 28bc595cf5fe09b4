//! Payment request URIs: Solana Pay (`solana:`) and EIP-681 (`ethereum:`), parsed strictly and
//! built canonically.
//!
//! A payment URI tells a wallet whom to pay, how much and of what. A parser that is looser than
//! the wallets reading the same text lets an attacker show an operator one request while the
//! wallet pays another (two `amount` fields, a mixed-case address with a typo, an amount with
//! more decimals than the mint). So the parsers here refuse everything the specifications and
//! their reference implementations refuse, and a few ambiguous forms they let through, each
//! refusal naming the rule broken with a stable snake_case code.
//!
//! The builders only emit what their own parser reads back to the same fields (a property test
//! checks it), and use one percent-encoding, `encodeURIComponent`'s, which both
//! `decodeURIComponent` and the WHATWG `URLSearchParams` read the same way.
//!
//! # Layout
//! - [`solana_pay`]: transfer requests and transaction requests.
//! - [`eip681`]: `ethereum:[pay-]<address>[@chain_id][/function]?params`, native payments,
//!   ERC-20 `transfer` and other calls, with [`Uint256`] integers.
//! - this file: [`PaymentUri`] (either standard, chosen by scheme), its JSON description, and
//!   the percent-encoding both standards share.

pub mod eip681;
pub mod solana_pay;

pub use eip681::{Eip681Arg, Eip681Call, Eip681Error, Eip681Request, Uint256};
pub use solana_pay::{SolanaPayError, SolanaPayRequest, TransactionRequest, TransferRequest};

use serde_json::{json, Value};

/// A parsed payment URI of either standard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentUri {
    SolanaPay(SolanaPayRequest),
    Eip681(Eip681Request),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentUriError {
    #[error("the URI's scheme is neither `solana:` (Solana Pay) nor `ethereum:` (EIP-681)")]
    UnknownScheme,
    #[error("Solana Pay: {0}")]
    SolanaPay(#[from] SolanaPayError),
    #[error("EIP-681: {0}")]
    Eip681(#[from] Eip681Error),
}

impl PaymentUriError {
    /// The rule broken, as a stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            PaymentUriError::UnknownScheme => "scheme_unknown",
            PaymentUriError::SolanaPay(e) => e.code(),
            PaymentUriError::Eip681(e) => e.code(),
        }
    }
}

impl PaymentUri {
    /// Parses either standard, chosen by the scheme (compared without regard to case, as
    /// RFC 3986 says schemes are).
    pub fn parse(text: &str) -> Result<Self, PaymentUriError> {
        let scheme = text.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("solana") => Ok(PaymentUri::SolanaPay(SolanaPayRequest::parse(text)?)),
            Some("ethereum") => Ok(PaymentUri::Eip681(Eip681Request::parse(text)?)),
            _ => Err(PaymentUriError::UnknownScheme),
        }
    }

    /// The parsed fields as JSON, amounts as decimal strings (never JSON numbers, which lose
    /// precision past 2^53 in most readers).
    pub fn to_json(&self) -> Value {
        match self {
            PaymentUri::SolanaPay(r) => r.to_json(),
            PaymentUri::Eip681(r) => r.to_json(),
        }
    }

    /// The canonical text of this request, as the builders write it.
    pub fn to_uri(&self) -> Result<String, PaymentUriError> {
        match self {
            PaymentUri::SolanaPay(r) => Ok(r.to_url()?),
            PaymentUri::Eip681(r) => Ok(r.to_uri()),
        }
    }
}

pub(crate) fn opt_json(v: &Option<String>) -> Value {
    match v {
        Some(s) => json!(s),
        None => Value::Null,
    }
}

/// Why a percent-encoded component could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// `%` not followed by two hex digits.
    BadEscape,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
}

/// `encodeURIComponent`: everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` as `%XX` of its UTF-8
/// bytes. `+` is encoded too, so a form decoder (which reads `+` as a space) and
/// `decodeURIComponent` agree on the result.
pub(crate) fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// Percent-decodes one component. `plus_is_space` gives the `URLSearchParams` reading used by
/// Solana Pay's reference implementation; EIP-681 numbers may start with `+`, so it reads `+`
/// literally. Unlike the browsers' decoders this never guesses: a stray `%` or bytes that are
/// not UTF-8 are refused, not passed through or replaced.
pub(crate) fn decode_component(text: &str, plus_is_space: bool) -> Result<String, DecodeError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or(DecodeError::BadEscape)?;
                let hi = hex_value(hex[0]).ok_or(DecodeError::BadEscape)?;
                let lo = hex_value(hex[1]).ok_or(DecodeError::BadEscape)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| DecodeError::NotUtf8)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The first character RFC 3986 does not allow unencoded in a URI: spaces, controls, non-ASCII
/// and `"<>\^`{|}`. A wallet would either refuse these or encode them its own way, so a URI
/// holding one means something different to different readers.
pub(crate) fn first_raw_character(text: &str) -> Option<char> {
    text.chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(*c)))
}

/// Splits a query into `(key, value)` pairs, still percent-encoded.
pub(crate) fn query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_matches_encode_uri_component() {
        assert_eq!(
            encode_component("Thanks for all the fish"),
            "Thanks%20for%20all%20the%20fish"
        );
        assert_eq!(encode_component("a+b&c=d/é"), "a%2Bb%26c%3Dd%2F%C3%A9");
        assert_eq!(encode_component("-_.!~*'()"), "-_.!~*'()");
    }

    #[test]
    fn decoding_refuses_stray_percent_and_non_utf8() {
        assert_eq!(decode_component("a%2", false), Err(DecodeError::BadEscape));
        assert_eq!(decode_component("%zz", false), Err(DecodeError::BadEscape));
        assert_eq!(decode_component("%C3", false), Err(DecodeError::NotUtf8));
        assert_eq!(decode_component("a+b", true).unwrap(), "a b");
        assert_eq!(decode_component("a+b", false).unwrap(), "a+b");
        assert_eq!(decode_component("%C3%A9", false).unwrap(), "é");
    }

    #[test]
    fn the_scheme_picks_the_standard_and_other_schemes_are_refused() {
        assert!(matches!(
            PaymentUri::parse("SOLANA:mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN"),
            Ok(PaymentUri::SolanaPay(_))
        ));
        assert!(matches!(
            PaymentUri::parse("ethereum:0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"),
            Ok(PaymentUri::Eip681(_))
        ));
        for bad in ["bitcoin:1abc", "", "https://example.com", "no scheme"] {
            assert_eq!(
                PaymentUri::parse(bad),
                Err(PaymentUriError::UnknownScheme),
                "{bad}"
            );
        }
    }
}
