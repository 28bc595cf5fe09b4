//! Solana Pay URLs (<https://docs.solanapay.com/spec>), as the reference implementation
//! (`solana-pay` `core/src/parseURL.ts`, `encodeURL.ts`) reads and writes them, but stricter.
//!
//! Two kinds share the `solana:` scheme. A *transfer request* names a recipient and what to
//! pay: `solana:<recipient>?amount=&spl-token=&reference=…&label=&message=&memo=`. A
//! *transaction request* names an HTTPS link the wallet fetches a transaction from:
//! `solana:<link>?label=&message=`. As in the reference, a pathname holding `:` or `%` is a
//! link, anything else a recipient.
//!
//! Refused here beyond what the reference refuses, each because two readers could disagree:
//! - a field the spec allows once (`amount`, `spl-token`, `label`, `message`, `memo`) given
//!   twice: the reference silently takes the first, another wallet may take the last;
//! - unencoded characters (spaces, non-ASCII, `<>"{}|\^` and controls), a stray `%` or escapes
//!   that are not UTF-8: browsers pass these through or substitute them;
//! - a `#fragment`, which the reference drops without a word;
//! - a native SOL amount with more than 9 decimals (the spec's rule; the reference does not
//!   check it), and with [`TransferRequest::check_decimals`] more than the mint's;
//! - a transaction request whose query carries anything but `label` and `message`: that is
//!   almost always a link whose own query was not URL-encoded, as the spec requires, and the
//!   reference would drop it from the link without a word;
//! - a link with user info (`https://shop.example@evil.example`), which hides the real host
//!   from the payer the wallet shows it to.
//!
//! One tolerance: the spec's own third example, `solana:<recipient>&label=Michael`, starts its
//! query with `&`. A base58 recipient never holds `&`, so when there is no `?` the first `&`
//! is read as the start of the query; the reference refuses that URL as `recipient invalid`.
//!
//! Text fields are decoded as `URLSearchParams` decodes them (`+` is a space), and written
//! with `encodeURIComponent` (`%20`, `%2B`), which every decoder reads the same way.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::{
    decode_component, encode_component, first_raw_character, opt_json, query_pairs, DecodeError,
};
use crate::{Address, ChainNamespace};

/// The reference implementation refuses longer URLs (QR codes cannot hold much more).
pub const MAX_URL_LENGTH: usize = 2048;
/// Decimals of native SOL (lamports).
pub const SOL_DECIMALS: u32 = 9;

const SCHEME: &str = "solana";

/// A rule of the spec or of the reference implementation that a URL breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SolanaPayError {
    #[error("the URL is {length} characters long; at most 2048 are allowed")]
    TooLong { length: usize },
    #[error("the scheme must be `solana:`")]
    Scheme,
    #[error("the recipient (the URL's path) is missing")]
    RecipientMissing,
    #[error("the recipient must be a base58 public key of 32 bytes")]
    RecipientInvalid,
    #[error("`amount` must be a number of whole units: digits with an optional `.` and digits")]
    AmountSyntax,
    #[error("`amount` must not be negative")]
    AmountNegative,
    #[error("`amount` must not use scientific notation")]
    AmountScientific,
    #[error("`amount` below 1 must have a leading `0` before the `.`")]
    AmountLeadingZeroMissing,
    #[error("`amount` has {decimals} decimals; at most {max} are allowed for this token")]
    AmountTooManyDecimals { decimals: u32, max: u32 },
    #[error("`amount` has more digits than can be represented exactly")]
    AmountOutOfRange,
    #[error("`spl-token` must be a base58 mint address of 32 bytes")]
    SplTokenInvalid,
    #[error("`reference` number {index} must be base58 of 32 bytes")]
    ReferenceInvalid { index: usize },
    #[error("`{field}` may appear only once")]
    DuplicateField { field: &'static str },
    #[error("a `%` escape is not `%` followed by two hex digits")]
    PercentEncoding,
    #[error("percent-escaped bytes are not UTF-8")]
    NotUtf8,
    #[error("the character {character:?} must be percent-encoded")]
    RawCharacter { character: char },
    #[error("a `#fragment` has no meaning in a Solana Pay URL")]
    Fragment,
    #[error("the link must be an absolute HTTPS URL: it {reason}")]
    LinkInvalid { reason: &'static str },
    #[error("`{key}` is not a transaction request field; a link with a query must be URL-encoded")]
    LinkQueryNotEncoded { key: String },
}

impl SolanaPayError {
    /// The rule broken, as a stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            SolanaPayError::TooLong { .. } => "length_invalid",
            SolanaPayError::Scheme => "protocol_invalid",
            SolanaPayError::RecipientMissing => "recipient_missing",
            SolanaPayError::RecipientInvalid => "recipient_invalid",
            SolanaPayError::AmountSyntax => "amount_invalid",
            SolanaPayError::AmountNegative => "amount_negative",
            SolanaPayError::AmountScientific => "amount_scientific_notation",
            SolanaPayError::AmountLeadingZeroMissing => "amount_leading_zero_missing",
            SolanaPayError::AmountTooManyDecimals { .. } => "amount_too_many_decimals",
            SolanaPayError::AmountOutOfRange => "amount_out_of_range",
            SolanaPayError::SplTokenInvalid => "spl_token_invalid",
            SolanaPayError::ReferenceInvalid { .. } => "reference_invalid",
            SolanaPayError::DuplicateField { .. } => "duplicate_field",
            SolanaPayError::PercentEncoding => "percent_encoding_invalid",
            SolanaPayError::NotUtf8 => "not_utf8",
            SolanaPayError::RawCharacter { .. } => "character_not_encoded",
            SolanaPayError::Fragment => "fragment_not_allowed",
            SolanaPayError::LinkInvalid { .. } => "link_invalid",
            SolanaPayError::LinkQueryNotEncoded { .. } => "link_query_not_encoded",
        }
    }
}

impl From<DecodeError> for SolanaPayError {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::BadEscape => SolanaPayError::PercentEncoding,
            DecodeError::NotUtf8 => SolanaPayError::NotUtf8,
        }
    }
}

/// A Solana Pay URL of either kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SolanaPayRequest {
    Transfer(TransferRequest),
    Transaction(TransactionRequest),
}

/// A non-interactive request: the wallet builds the transfer from these fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRequest {
    /// The native account paid (for a token, the owner of the associated token account).
    pub recipient: Address,
    /// Whole units (SOL, or the mint's UI amount); `None` lets the payer choose.
    pub amount: Option<Decimal>,
    /// The mint; `None` is native SOL.
    pub spl_token: Option<Address>,
    /// Keys the wallet adds, in this order, to the transfer instruction; the payment is found
    /// on chain by them.
    pub references: Vec<Address>,
    pub label: Option<String>,
    pub message: Option<String>,
    /// Put in an SPL Memo instruction right before the transfer.
    pub memo: Option<String>,
}

/// An interactive request: the wallet fetches the transaction from `link`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionRequest {
    /// An absolute HTTPS URL, decoded.
    pub link: String,
    pub label: Option<String>,
    pub message: Option<String>,
}

impl SolanaPayRequest {
    /// Parses a `solana:` URL of either kind.
    pub fn parse(url: &str) -> Result<Self, SolanaPayError> {
        if url.len() > MAX_URL_LENGTH {
            return Err(SolanaPayError::TooLong { length: url.len() });
        }
        let (scheme, rest) = url.split_once(':').ok_or(SolanaPayError::Scheme)?;
        if !scheme.eq_ignore_ascii_case(SCHEME) {
            return Err(SolanaPayError::Scheme);
        }
        if let Some(character) = first_raw_character(rest) {
            return Err(SolanaPayError::RawCharacter { character });
        }
        if rest.contains('#') {
            return Err(SolanaPayError::Fragment);
        }
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, query),
            None => (rest, ""),
        };
        if path.is_empty() {
            return Err(SolanaPayError::RecipientMissing);
        }
        if path.contains([':', '%']) {
            return TransactionRequest::from_parts(path, query).map(SolanaPayRequest::Transaction);
        }
        // The spec's `solana:<recipient>&label=…` example: see the module docs.
        let (path, query) = match (rest.contains('?'), path.split_once('&')) {
            (false, Some((path, query))) => (path, query),
            _ => (path, query),
        };
        TransferRequest::from_parts(path, query).map(SolanaPayRequest::Transfer)
    }

    /// The URL as the builders write it.
    pub fn to_url(&self) -> Result<String, SolanaPayError> {
        match self {
            SolanaPayRequest::Transfer(t) => t.to_url(),
            SolanaPayRequest::Transaction(t) => t.to_url(),
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            SolanaPayRequest::Transfer(t) => json!({
                "standard": "solana_pay",
                "kind": "transfer_request",
                "recipient": t.recipient.to_string(),
                "amount": t.amount.map(|a| a.to_string()),
                "spl_token": t.spl_token.map(|m| m.to_string()),
                "references": t.references.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
                "label": opt_json(&t.label),
                "message": opt_json(&t.message),
                "memo": opt_json(&t.memo),
            }),
            SolanaPayRequest::Transaction(t) => json!({
                "standard": "solana_pay",
                "kind": "transaction_request",
                "link": t.link,
                "label": opt_json(&t.label),
                "message": opt_json(&t.message),
            }),
        }
    }
}

/// Decoded query fields, the ones the spec allows once checked for repeats.
struct Fields {
    pairs: Vec<(String, String)>,
}

impl Fields {
    fn read(query: &str) -> Result<Self, SolanaPayError> {
        let mut pairs = Vec::new();
        // `URLSearchParams` skips empty pieces (`a=1&&b=2`, a trailing `&`).
        for (key, value) in query_pairs(query).filter(|(k, v)| !(k.is_empty() && v.is_empty())) {
            pairs.push((decode_component(key, true)?, decode_component(value, true)?));
        }
        Ok(Self { pairs })
    }

    fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn single(&self, key: &'static str) -> Result<Option<&str>, SolanaPayError> {
        let mut values = self.all(key);
        let first = values.next();
        if values.next().is_some() {
            return Err(SolanaPayError::DuplicateField { field: key });
        }
        Ok(first)
    }

    /// A text field; empty counts as absent, as in the reference (`get(...) || undefined`).
    fn text(&self, key: &'static str) -> Result<Option<String>, SolanaPayError> {
        Ok(self
            .single(key)?
            .filter(|v| !v.is_empty())
            .map(str::to_owned))
    }
}

fn solana_key(text: &str) -> Option<Address> {
    Address::parse(text, ChainNamespace::Solana).ok()
}

impl TransferRequest {
    /// A request to pay `recipient`, every optional field empty.
    pub fn new(recipient: Address) -> Self {
        Self {
            recipient,
            amount: None,
            spl_token: None,
            references: Vec::new(),
            label: None,
            message: None,
            memo: None,
        }
    }

    fn from_parts(path: &str, query: &str) -> Result<Self, SolanaPayError> {
        let recipient = solana_key(path).ok_or(SolanaPayError::RecipientInvalid)?;
        let fields = Fields::read(query)?;
        let amount = fields.single("amount")?.map(parse_amount).transpose()?;
        let spl_token = match fields.single("spl-token")? {
            Some(mint) => Some(solana_key(mint).ok_or(SolanaPayError::SplTokenInvalid)?),
            None => None,
        };
        let references = fields
            .all("reference")
            .enumerate()
            .map(|(index, r)| solana_key(r).ok_or(SolanaPayError::ReferenceInvalid { index }))
            .collect::<Result<Vec<_>, _>>()?;
        let request = Self {
            recipient,
            amount,
            spl_token,
            references,
            label: fields.text("label")?,
            message: fields.text("message")?,
            memo: fields.text("memo")?,
        };
        request.check_native_decimals()?;
        Ok(request)
    }

    /// Refuses an amount with more decimals than the mint has (the spec calls such a URL
    /// malformed). The parser checks native SOL itself; a mint's decimals are known only to
    /// a caller that has read the mint.
    pub fn check_decimals(&self, decimals: u32) -> Result<(), SolanaPayError> {
        match self.amount {
            Some(a) if a.normalize().scale() > decimals => {
                Err(SolanaPayError::AmountTooManyDecimals {
                    decimals: a.normalize().scale(),
                    max: decimals,
                })
            }
            _ => Ok(()),
        }
    }

    fn check_native_decimals(&self) -> Result<(), SolanaPayError> {
        match self.spl_token {
            None => self.check_decimals(SOL_DECIMALS),
            Some(_) => Ok(()),
        }
    }

    /// Writes the URL: fields in the reference encoder's order, the amount without trailing
    /// zeros (as `BigNumber.toFixed(decimalPlaces())` writes it), empty text fields left out.
    pub fn to_url(&self) -> Result<String, SolanaPayError> {
        let key = |a: &Address, e: SolanaPayError| match a {
            Address::Solana(_) => Ok(a.to_string()),
            Address::Evm(_) => Err(e),
        };
        let mut url = format!(
            "{SCHEME}:{}",
            key(&self.recipient, SolanaPayError::RecipientInvalid)?
        );
        let mut params: Vec<(&str, String)> = Vec::new();
        if let Some(amount) = self.amount {
            if amount.is_sign_negative() && !amount.is_zero() {
                return Err(SolanaPayError::AmountNegative);
            }
            self.check_native_decimals()?;
            params.push(("amount", amount.normalize().to_string()));
        }
        if let Some(mint) = &self.spl_token {
            params.push(("spl-token", key(mint, SolanaPayError::SplTokenInvalid)?));
        }
        for (index, r) in self.references.iter().enumerate() {
            params.push((
                "reference",
                key(r, SolanaPayError::ReferenceInvalid { index })?,
            ));
        }
        for (name, text) in [
            ("label", &self.label),
            ("message", &self.message),
            ("memo", &self.memo),
        ] {
            if let Some(text) = text.as_deref().filter(|t| !t.is_empty()) {
                params.push((name, encode_component(text)));
            }
        }
        append_query(&mut url, &params);
        within_length(url)
    }
}

impl TransactionRequest {
    fn from_parts(path: &str, query: &str) -> Result<Self, SolanaPayError> {
        let link = decode_component(path, false)?;
        check_https_link(&link).map_err(|reason| SolanaPayError::LinkInvalid { reason })?;
        let fields = Fields::read(query)?;
        if let Some((key, _)) = fields
            .pairs
            .iter()
            .find(|(k, _)| k != "label" && k != "message")
        {
            return Err(SolanaPayError::LinkQueryNotEncoded { key: key.clone() });
        }
        Ok(Self {
            link,
            label: fields.text("label")?,
            message: fields.text("message")?,
        })
    }

    /// Writes the URL. As the spec asks, the link is URL-encoded only when it must be: when
    /// it has a query, or characters (`%`, `#`, `&`, `=`, ...) that a reader would otherwise
    /// take for the URL's own.
    pub fn to_url(&self) -> Result<String, SolanaPayError> {
        check_https_link(&self.link).map_err(|reason| SolanaPayError::LinkInvalid { reason })?;
        let plain = !self.link.contains(['?', '#', '%', '&', '=', '+']);
        let link = if plain {
            self.link.clone()
        } else {
            encode_component(&self.link)
        };
        let mut url = format!("{SCHEME}:{link}");
        let mut params: Vec<(&str, String)> = Vec::new();
        for (name, text) in [("label", &self.label), ("message", &self.message)] {
            if let Some(text) = text.as_deref().filter(|t| !t.is_empty()) {
                params.push((name, encode_component(text)));
            }
        }
        append_query(&mut url, &params);
        within_length(url)
    }
}

fn append_query(url: &mut String, params: &[(&str, String)]) {
    for (i, (name, value)) in params.iter().enumerate() {
        url.push(if i == 0 { '?' } else { '&' });
        url.push_str(name);
        url.push('=');
        url.push_str(value);
    }
}

fn within_length(url: String) -> Result<String, SolanaPayError> {
    if url.len() > MAX_URL_LENGTH {
        return Err(SolanaPayError::TooLong { length: url.len() });
    }
    Ok(url)
}

/// The spec's amount: a non-negative integer or decimal, `0.5` not `.5`, no exponent. The
/// reference's test is `/^\d+(\.\d+)?$/`; the other checks only name the rule broken.
/// Native SOL's 9 decimals and a mint's are checked on the whole request.
pub fn parse_amount(text: &str) -> Result<Decimal, SolanaPayError> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let well_formed = match text.split_once('.') {
        Some((int, frac)) => digits(int) && digits(frac),
        None => digits(text),
    };
    if !well_formed {
        let numeric = |b: u8| b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'+';
        return Err(if text.starts_with('-') {
            SolanaPayError::AmountNegative
        } else if text.contains(['e', 'E'])
            && text.bytes().all(|b| numeric(b) || b == b'e' || b == b'E')
        {
            SolanaPayError::AmountScientific
        } else if text.starts_with('.') && digits(&text[1..]) {
            SolanaPayError::AmountLeadingZeroMissing
        } else {
            SolanaPayError::AmountSyntax
        });
    }
    Decimal::from_str_exact(text).map_err(|_| SolanaPayError::AmountOutOfRange)
}

/// An absolute HTTPS URL with a host and no user info. `Err` says what is wrong.
fn check_https_link(link: &str) -> Result<(), &'static str> {
    if first_raw_character(link).is_some() {
        return Err("holds a character that must be percent-encoded");
    }
    let (scheme, rest) = link.split_once("://").ok_or("is not absolute")?;
    if !scheme.eq_ignore_ascii_case("https") {
        return Err("is not https");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err("carries user info before its host, which hides the real host");
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (addr, after) = v6.split_once(']').ok_or("has a malformed IPv6 host")?;
            if addr.is_empty() || !addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
                return Err("has a malformed IPv6 host");
            }
            ("v6", after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if host.is_empty() {
        return Err("has no host");
    }
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err("has a host with characters a host name cannot hold");
    }
    if let Some(port) = port {
        if u16::from_str(port).is_err() {
            return Err("has a port that is not a number from 0 to 65535");
        }
    }
    Ok(())
}
