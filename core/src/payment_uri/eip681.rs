//! EIP-681 payment requests (<https://eips.ethereum.org/EIPS/eip-681>):
//! `ethereum:[pay-]<address>[@chain_id][/function]?params`.
//!
//! Three shapes are told apart: a native payment (no function, amount in `value`, wei), an
//! ERC-20 `transfer` (exactly one `address` and one `uint256` argument: beneficiary and base
//! units), and any other contract call, kept as its typed arguments.
//!
//! Numbers follow the EIP's grammar, `2.014e18` included, and must come out as integers: the
//! exponent at least the number of decimals. The builders write plain integers only, since a
//! wallet that misreads an exponent pays the wrong amount and an integer cannot be misread.
//!
//! Refused, and why:
//! - ENS names, as target or `address` argument: resolving one is a network lookup whose
//!   answer can change between the check and the payment; a hex address cannot.
//! - A mixed-case address whose EIP-55 checksum does not match: it is a typo or a forgery
//!   (all-lower and all-upper case carry no checksum and are read as they are). The EIP's own
//!   first example, `0xfb6916095ca1df60bb79Ce92ce3ea74c37c5d359`, is such an address; its
//!   checksummed form is `0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359`.
//! - The grammar's degenerate numbers (`e18` with no digits, `1e` with no exponent), negative
//!   or fractional amounts, amounts of 2^256 or more; `value`, `gas`/`gasLimit` or `gasPrice`
//!   twice (`gas` and `gasLimit` are the same field); a key that is neither one of those nor
//!   an ABI type; arguments without a function; a chain id of 0 or with leading zeros; an
//!   empty query; unencoded characters and `#fragments`, as for Solana Pay.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde_json::{json, Value};

use super::{decode_component, encode_component, first_raw_character, DecodeError};
use crate::{Address, AddressError, ChainNamespace};

const SCHEME: &str = "ethereum";
const PAY_PREFIX: &str = "pay-";

/// 2^256 - 1, the largest `uint256`.
const UINT256_MAX: &str =
    "115792089237316195423570985008687907853269984665640564039457584007913129639935";

/// A non-negative integer below 2^256 (an EVM `uint256`), kept as its canonical decimal
/// digits: core has no big-integer type, and these values are only compared, parsed and
/// printed here.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Uint256(String);

impl Uint256 {
    pub fn zero() -> Self {
        Uint256("0".to_owned())
    }

    pub fn max() -> Self {
        Uint256(UINT256_MAX.to_owned())
    }

    pub fn from_u128(v: u128) -> Self {
        Uint256(v.to_string())
    }

    /// `None` above `u128::MAX`.
    pub fn to_u128(&self) -> Option<u128> {
        self.0.parse().ok()
    }

    /// From a 256-bit big-endian integer (how EVM libraries hold a `uint256`); never fails.
    pub fn from_be_bytes(bytes: [u8; 32]) -> Self {
        // Long division by 10, least significant digit first.
        let mut n = bytes;
        let mut digits = Vec::with_capacity(UINT256_MAX.len());
        loop {
            let mut rem = 0u32;
            for b in n.iter_mut() {
                let cur = rem * 256 + u32::from(*b);
                *b = (cur / 10) as u8;
                rem = cur % 10;
            }
            digits.push(char::from(b'0' + rem as u8));
            if n.iter().all(|b| *b == 0) {
                break;
            }
        }
        Uint256(digits.iter().rev().collect())
    }

    pub fn is_zero(&self) -> bool {
        self.0 == "0"
    }

    /// From decimal digits (leading zeros allowed); `None` when empty, not digits, or
    /// 2^256 or more.
    fn from_digits(digits: &str) -> Option<Self> {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let significant = digits.trim_start_matches('0');
        if significant.is_empty() {
            return Some(Self::zero());
        }
        let fits = match significant.len().cmp(&UINT256_MAX.len()) {
            Ordering::Less => true,
            Ordering::Equal => significant <= UINT256_MAX,
            Ordering::Greater => false,
        };
        fits.then(|| Uint256(significant.to_owned()))
    }
}

impl fmt::Display for Uint256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Plain decimal digits only (no sign, no exponent).
impl FromStr for Uint256 {
    type Err = Eip681Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uint256::from_digits(s).ok_or(Eip681Error::NumberSyntax {
            key: "uint256".to_owned(),
        })
    }
}

impl PartialOrd for Uint256 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Uint256 {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.0.len(), &self.0).cmp(&(other.0.len(), &other.0))
    }
}

/// A rule of EIP-681 (or of this stricter reading of it) that a URI breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Eip681Error {
    #[error("the scheme must be `ethereum:`")]
    Scheme,
    #[error("the target address is missing")]
    TargetMissing,
    #[error("`{field}` must be 0x and 40 hex digits")]
    AddressInvalid { field: &'static str },
    #[error("`{field}` is mixed case but not a valid EIP-55 checksum (a typo or a forgery)")]
    AddressChecksum { field: &'static str },
    #[error("`{field}` is an ENS name; only hex addresses are accepted (no name resolution)")]
    EnsNotSupported { field: &'static str },
    #[error("the chain id must be a decimal number from 1, without leading zeros")]
    ChainIdInvalid,
    #[error("the function name must be a Solidity identifier")]
    FunctionInvalid,
    #[error("the query is empty or a parameter is not `key=value`")]
    ParameterMalformed,
    #[error("`{key}` is neither value, gas, gasLimit, gasPrice nor an ABI type")]
    KeyInvalid { key: String },
    #[error("`{key}` may appear only once (gas and gasLimit are the same field)")]
    DuplicateParameter { key: String },
    #[error("`{key}` is not a number: [+]digits[.digits][e digits]")]
    NumberSyntax { key: String },
    #[error("`{key}` is not an integer: the exponent must cover every decimal")]
    NumberNotInteger { key: String },
    #[error("`{key}` must not be negative")]
    NumberNegative { key: String },
    #[error("`{key}` does not fit in 256 bits")]
    NumberOutOfRange { key: String },
    #[error("`{key}` is not a valid {key}")]
    ArgumentInvalid { key: String },
    #[error("ABI arguments were given without a function to call")]
    ArgumentsWithoutFunction,
    #[error("`transfer` takes exactly one `address` and one `uint256`")]
    TransferArguments,
    #[error("a `%` escape is not `%` followed by two hex digits")]
    PercentEncoding,
    #[error("percent-escaped bytes are not UTF-8")]
    NotUtf8,
    #[error("the character {character:?} must be percent-encoded")]
    RawCharacter { character: char },
    #[error("a `#fragment` has no meaning in an EIP-681 URI")]
    Fragment,
}

impl Eip681Error {
    /// The rule broken, as a stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            Eip681Error::Scheme => "scheme_invalid",
            Eip681Error::TargetMissing => "target_missing",
            Eip681Error::AddressInvalid { .. } => "address_invalid",
            Eip681Error::AddressChecksum { .. } => "address_checksum_invalid",
            Eip681Error::EnsNotSupported { .. } => "ens_not_supported",
            Eip681Error::ChainIdInvalid => "chain_id_invalid",
            Eip681Error::FunctionInvalid => "function_name_invalid",
            Eip681Error::ParameterMalformed => "parameter_malformed",
            Eip681Error::KeyInvalid { .. } => "parameter_key_invalid",
            Eip681Error::DuplicateParameter { .. } => "duplicate_parameter",
            Eip681Error::NumberSyntax { .. } => "number_invalid",
            Eip681Error::NumberNotInteger { .. } => "number_not_integer",
            Eip681Error::NumberNegative { .. } => "number_negative",
            Eip681Error::NumberOutOfRange { .. } => "number_out_of_range",
            Eip681Error::ArgumentInvalid { .. } => "argument_invalid",
            Eip681Error::ArgumentsWithoutFunction => "arguments_without_function",
            Eip681Error::TransferArguments => "transfer_arguments_invalid",
            Eip681Error::PercentEncoding => "percent_encoding_invalid",
            Eip681Error::NotUtf8 => "not_utf8",
            Eip681Error::RawCharacter { .. } => "character_not_encoded",
            Eip681Error::Fragment => "fragment_not_allowed",
        }
    }
}

impl From<DecodeError> for Eip681Error {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::BadEscape => Eip681Error::PercentEncoding,
            DecodeError::NotUtf8 => Eip681Error::NotUtf8,
        }
    }
}

/// One ABI argument of a call: its type as written in the key, its value in canonical text
/// (EIP-55 addresses, plain integers, decoded strings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eip681Arg {
    pub abi_type: String,
    pub value: String,
}

/// What the URI asks the wallet to call on the target, if anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eip681Call {
    /// `transfer(address,uint256)` on the ERC-20 contract at the target.
    Erc20Transfer { to: Address, amount: Uint256 },
    /// Any other function, with its arguments in order.
    Other {
        function: String,
        args: Vec<Eip681Arg>,
    },
}

/// A parsed EIP-681 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eip681Request {
    /// Written as `ethereum:pay-…`.
    pub pay_prefix: bool,
    /// The payee of a native payment, or the contract called.
    pub target: Address,
    /// `None`: the wallet's current network.
    pub chain_id: Option<u64>,
    /// `None`: a native payment of `value`.
    pub call: Option<Eip681Call>,
    /// Wei sent with the transaction.
    pub value: Option<Uint256>,
    pub gas_limit: Option<Uint256>,
    pub gas_price: Option<Uint256>,
}

impl Eip681Request {
    /// A request to pay `units` base units of the ERC-20 `token` to `to` on `chain_id`.
    pub fn erc20_transfer(chain_id: u64, token: Address, to: Address, units: Uint256) -> Self {
        Self {
            call: Some(Eip681Call::Erc20Transfer { to, amount: units }),
            ..Self::native(Some(chain_id), token, None)
        }
    }

    /// A request to pay `wei` of the chain's native token to `to`.
    pub fn native(chain_id: Option<u64>, to: Address, wei: Option<Uint256>) -> Self {
        Self {
            pay_prefix: false,
            target: to,
            chain_id,
            call: None,
            value: wei,
            gas_limit: None,
            gas_price: None,
        }
    }

    /// Writes the URI: EIP-55 addresses, plain integers, the transfer's `address` before its
    /// `uint256` (the function's argument order), then `value`, `gasLimit`, `gasPrice`.
    pub fn to_uri(&self) -> String {
        let mut uri = format!("{SCHEME}:");
        if self.pay_prefix {
            uri.push_str(PAY_PREFIX);
        }
        uri.push_str(&self.target.to_string());
        if let Some(chain) = self.chain_id {
            uri.push_str(&format!("@{chain}"));
        }
        let mut params: Vec<(String, String)> = Vec::new();
        match &self.call {
            Some(Eip681Call::Erc20Transfer { to, amount }) => {
                uri.push_str("/transfer");
                params.push(("address".into(), to.to_string()));
                params.push(("uint256".into(), amount.to_string()));
            }
            Some(Eip681Call::Other { function, args }) => {
                uri.push('/');
                uri.push_str(function);
                for arg in args {
                    params.push((arg.abi_type.clone(), encode_component(&arg.value)));
                }
            }
            None => {}
        }
        for (key, v) in [
            ("value", &self.value),
            ("gasLimit", &self.gas_limit),
            ("gasPrice", &self.gas_price),
        ] {
            if let Some(v) = v {
                params.push((key.into(), v.to_string()));
            }
        }
        for (i, (key, value)) in params.iter().enumerate() {
            uri.push(if i == 0 { '?' } else { '&' });
            uri.push_str(&format!("{key}={value}"));
        }
        uri
    }

    pub fn to_json(&self) -> Value {
        let text = |v: &Option<Uint256>| v.as_ref().map(|n| n.to_string());
        let mut out = json!({
            "standard": "eip681",
            "pay_prefix": self.pay_prefix,
            "target": self.target.to_string(),
            "chain_id": self.chain_id,
            "value": text(&self.value),
            "gas_limit": text(&self.gas_limit),
            "gas_price": text(&self.gas_price),
        });
        let extra = match &self.call {
            None => json!({ "kind": "native_transfer", "to": self.target.to_string() }),
            Some(Eip681Call::Erc20Transfer { to, amount }) => json!({
                "kind": "erc20_transfer",
                "token": self.target.to_string(),
                "to": to.to_string(),
                "amount_units": amount.to_string(),
            }),
            Some(Eip681Call::Other { function, args }) => json!({
                "kind": "contract_call",
                "function": function,
                "args": args.iter().map(|a| json!({"type": a.abi_type, "value": a.value}))
                    .collect::<Vec<_>>(),
            }),
        };
        if let (Value::Object(out), Value::Object(extra)) = (&mut out, extra) {
            out.extend(extra);
        }
        out
    }

    /// Parses an `ethereum:` URI (see the module docs for what is refused).
    pub fn parse(uri: &str) -> Result<Self, Eip681Error> {
        let (scheme, rest) = uri.split_once(':').ok_or(Eip681Error::Scheme)?;
        if !scheme.eq_ignore_ascii_case(SCHEME) {
            return Err(Eip681Error::Scheme);
        }
        if let Some(character) = first_raw_character(rest) {
            return Err(Eip681Error::RawCharacter { character });
        }
        if rest.contains('#') {
            return Err(Eip681Error::Fragment);
        }
        // ABNF strings are case-insensitive, so `PAY-` is the prefix too.
        let (pay_prefix, rest) = match rest.get(..PAY_PREFIX.len()) {
            Some(p) if p.eq_ignore_ascii_case(PAY_PREFIX) => (true, &rest[PAY_PREFIX.len()..]),
            _ => (false, rest),
        };
        let (head, query) = match rest.split_once('?') {
            Some((head, query)) => (head, Some(query)),
            None => (rest, None),
        };
        let (head, function) = match head.split_once('/') {
            Some((head, function)) => (head, Some(parse_function(function)?)),
            None => (head, None),
        };
        let (target, chain_id) = match head.split_once('@') {
            Some((target, chain)) => (target, Some(parse_chain_id(chain)?)),
            None => (head, None),
        };
        if target.is_empty() {
            return Err(Eip681Error::TargetMissing);
        }
        let target = parse_address(target, "target_address")?;
        let params = Params::read(query)?;
        let call = match function {
            None if params.args.is_empty() => None,
            None => return Err(Eip681Error::ArgumentsWithoutFunction),
            Some(f) if f == "transfer" => Some(transfer_call(&params.args)?),
            Some(function) => Some(Eip681Call::Other {
                function,
                args: params.args,
            }),
        };
        Ok(Self {
            pay_prefix,
            target,
            chain_id,
            call,
            value: params.value,
            gas_limit: params.gas_limit,
            gas_price: params.gas_price,
        })
    }
}

fn parse_function(text: &str) -> Result<String, Eip681Error> {
    let name = decode_component(text, false)?;
    let mut bytes = name.bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$';
    match bytes.next() {
        Some(first) if ident(first) && !first.is_ascii_digit() && bytes.all(ident) => Ok(name),
        _ => Err(Eip681Error::FunctionInvalid),
    }
}

fn parse_chain_id(text: &str) -> Result<u64, Eip681Error> {
    if text.starts_with('0') || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Eip681Error::ChainIdInvalid);
    }
    text.parse::<u64>().map_err(|_| Eip681Error::ChainIdInvalid)
}

/// A hex address; ENS names (anything with a dot and no `0x` + 40 hex) are refused.
fn parse_address(text: &str, field: &'static str) -> Result<Address, Eip681Error> {
    match Address::parse(text, ChainNamespace::Eip155) {
        Ok(a) => Ok(a),
        Err(AddressError::EvmChecksum) => Err(Eip681Error::AddressChecksum { field }),
        Err(_) if text.contains('.') => Err(Eip681Error::EnsNotSupported { field }),
        Err(_) => Err(Eip681Error::AddressInvalid { field }),
    }
}

/// The transfer's beneficiary and amount, whatever order they were written in; nothing else.
fn transfer_call(args: &[Eip681Arg]) -> Result<Eip681Call, Eip681Error> {
    let one = |t: &str| {
        let mut found = args.iter().filter(|a| a.abi_type == t);
        match (found.next(), found.next()) {
            (Some(a), None) => Ok(a.value.as_str()),
            _ => Err(Eip681Error::TransferArguments),
        }
    };
    let (to, amount) = (one("address")?, one("uint256")?);
    if args.len() != 2 {
        return Err(Eip681Error::TransferArguments);
    }
    Ok(Eip681Call::Erc20Transfer {
        to: parse_address(to, "address")?,
        amount: amount.parse()?,
    })
}

/// The query's fields: the transaction's own, and the call's arguments in order.
#[derive(Default)]
struct Params {
    value: Option<Uint256>,
    gas_limit: Option<Uint256>,
    gas_price: Option<Uint256>,
    args: Vec<Eip681Arg>,
}

impl Params {
    fn read(query: Option<&str>) -> Result<Self, Eip681Error> {
        let mut params = Params::default();
        let Some(query) = query else {
            return Ok(params);
        };
        for pair in query.split('&') {
            let (key, value) = pair
                .split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .ok_or(Eip681Error::ParameterMalformed)?;
            let key = decode_component(key, false)?;
            let value = decode_component(value, false)?;
            let slot = match key.as_str() {
                "value" => &mut params.value,
                "gas" | "gasLimit" => &mut params.gas_limit,
                "gasPrice" => &mut params.gas_price,
                _ => {
                    params.args.push(typed_arg(key, &value)?);
                    continue;
                }
            };
            if slot.is_some() {
                return Err(Eip681Error::DuplicateParameter { key });
            }
            *slot = Some(parse_number(&value, &key)?);
        }
        Ok(params)
    }
}

/// An argument whose key is an ABI type, its value checked against the type where the type
/// has a form to check (`address`, `uintN`, `intN`, `bool`); other types keep their text.
fn typed_arg(abi_type: String, value: &str) -> Result<Eip681Arg, Eip681Error> {
    let invalid = || Eip681Error::ArgumentInvalid {
        key: abi_type.clone(),
    };
    let value = match abi_type.as_str() {
        "address" => parse_address(value, "address")?.to_string(),
        "bool" if value == "true" || value == "false" => value.to_owned(),
        "bool" => return Err(invalid()),
        t if int_bits(t, "uint").is_some() => parse_number(value, t)?.to_string(),
        t if int_bits(t, "int").is_some() => match value.strip_prefix('-') {
            Some(magnitude) => match parse_number(magnitude, t)? {
                m if m.is_zero() => m.to_string(),
                m => format!("-{m}"),
            },
            None => parse_number(value, t)?.to_string(),
        },
        t if is_abi_type(t) => value.to_owned(),
        _ => return Err(Eip681Error::KeyInvalid { key: abi_type }),
    };
    Ok(Eip681Arg { abi_type, value })
}

/// `uint`/`int` alone or with a width from 8 to 256 in steps of 8.
fn int_bits(t: &str, prefix: &str) -> Option<u32> {
    let width = t.strip_prefix(prefix)?;
    if width.is_empty() {
        return Some(256);
    }
    let bits: u32 = width.parse().ok().filter(|_| !width.starts_with('0'))?;
    (bits % 8 == 0 && (8..=256).contains(&bits)).then_some(bits)
}

/// The elementary ABI types with no value form checked here (`bytesN`, `bytes`, `string`,
/// `function`). Arrays and tuples are not accepted as keys.
fn is_abi_type(t: &str) -> bool {
    match t {
        "bytes" | "string" | "function" => true,
        _ => t
            .strip_prefix("bytes")
            .and_then(|n| n.parse::<u32>().ok().filter(|_| !n.starts_with('0')))
            .is_some_and(|n| (1..=32).contains(&n)),
    }
}

/// EIP-681's `number`, `[+]*DIGIT["."1*DIGIT][("e"/"E")1*DIGIT]`, as a non-negative integer.
/// At least one digit is required before the exponent and one after `e`: the grammar's
/// `e18` and `1e` read as different numbers to different wallets.
fn parse_number(text: &str, key: &str) -> Result<Uint256, Eip681Error> {
    let key = || key.to_owned();
    let syntax = || Eip681Error::NumberSyntax { key: key() };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if text.starts_with('-') {
        return Err(Eip681Error::NumberNegative { key: key() });
    }
    let unsigned = text.strip_prefix('+').unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) if !e.is_empty() && digits(e) => (m, Some(e)),
        Some(_) => return Err(syntax()),
        None => (unsigned, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((_, "")) => return Err(syntax()),
        Some((int, frac)) => (int, frac),
        None => (mantissa, ""),
    };
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return Err(syntax());
    }
    let all = format!("{int}{frac}");
    if all.bytes().all(|b| b == b'0') {
        return Ok(Uint256::zero());
    }
    let out_of_range = || Eip681Error::NumberOutOfRange { key: key() };
    // A huge exponent on a non-zero mantissa overflows; never build its zeros.
    let exponent: usize = match exponent {
        None => 0,
        Some(e) => e
            .parse()
            .ok()
            .filter(|e| *e <= UINT256_MAX.len() + frac.len())
            .ok_or_else(out_of_range)?,
    };
    // The EIP's words, read literally: `1.50e1` is refused although it equals 15.
    let zeros = exponent
        .checked_sub(frac.len())
        .ok_or(Eip681Error::NumberNotInteger { key: key() })?;
    let significant = all.trim_start_matches('0');
    if significant.len() + zeros > UINT256_MAX.len() {
        return Err(out_of_range());
    }
    Uint256::from_digits(&format!("{significant}{}", "0".repeat(zeros))).ok_or_else(out_of_range)
}
