//! How reconciliation names transactions and accounts, per chain family: an EVM transaction is
//! a 32-byte hash written `0x` + hex in any case, a Solana one is its first 64-byte signature
//! in base58; an EVM account is 20 bytes of hex (any case: the ledger and the chain may
//! disagree on EIP-55 case without meaning another account), a Solana one 32 bytes of base58,
//! which is case-sensitive (a base58 text with one letter's case changed is another key, or
//! none). Both are kept as bytes so that observations sort and compare cheaply, and printed
//! back in their family's own form.

use std::fmt;

use rialto_core::ChainNamespace;

/// An account on an EVM or Solana chain (reconciliation compares bytes).
pub type Addr = rialto_core::Address;

/// A transaction's reference, as bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TxHash {
    Evm([u8; 32]),
    /// The transaction's first signature (the one Solana names it by).
    Solana([u8; 64]),
}

impl TxHash {
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            TxHash::Evm(b) => b,
            TxHash::Solana(b) => b,
        }
    }
}

impl fmt::Display for TxHash {
    /// EVM: `0x` and lower-case hex (as receipts print it); Solana: base58.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TxHash::Evm(b) => f.write_str(&hex0x(b)),
            TxHash::Solana(b) => f.write_str(&bs58::encode(b).into_string()),
        }
    }
}

/// The chain family of a CAIP-2 id (`eip155:1`, `solana:5eykt…`).
pub fn family(caip2: &str) -> ChainNamespace {
    match caip2.split_once(':').map(|(ns, _)| ns) {
        Some("eip155") => ChainNamespace::Eip155,
        Some("solana") => ChainNamespace::Solana,
        _ => ChainNamespace::Other,
    }
}

/// Parses `0x`-prefixed hex of exactly `N` bytes, any case.
fn parse_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let body = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))?;
    if body.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(body, &mut out).ok()?;
    Some(out)
}

/// Base58 of exactly `N` bytes, case as written.
fn parse_base58<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = bs58::decode(text).into_vec().ok()?;
    <[u8; N]>::try_from(bytes.as_slice()).ok()
}

/// A transaction reference of a chain of `family`; `None` for anything malformed.
pub fn parse_tx_hash(text: &str, family: ChainNamespace) -> Option<TxHash> {
    match family {
        ChainNamespace::Eip155 => parse_hex(text).map(TxHash::Evm),
        ChainNamespace::Solana => parse_base58(text).map(TxHash::Solana),
        ChainNamespace::Other => None,
    }
}

/// An account of a chain of `family`; `None` for anything malformed.
pub fn parse_addr(text: &str, family: ChainNamespace) -> Option<Addr> {
    match family {
        ChainNamespace::Eip155 => parse_hex(text).map(Addr::Evm),
        ChainNamespace::Solana => parse_base58(text).map(Addr::Solana),
        ChainNamespace::Other => None,
    }
}

/// What stands for "nobody" in a mint's sender or a burn's recipient.
pub fn zero_addr(family: ChainNamespace) -> Addr {
    match family {
        ChainNamespace::Solana => Addr::Solana([0; 32]),
        _ => Addr::Evm([0; 20]),
    }
}

pub fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// An account as reports print it: EVM in lower-case hex (stable whatever case it was written
/// in), Solana in base58.
pub fn addr_text(addr: &Addr) -> String {
    match addr {
        Addr::Evm(b) => hex0x(b),
        Addr::Solana(_) => addr.to_string(),
    }
}
