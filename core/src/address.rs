//! Account addresses, validated for their chain family: EVM addresses with the EIP-55 mixed-case
//! checksum, Solana public keys as base58 of exactly 32 bytes.

use std::fmt;

use sha3::{Digest, Keccak256};

use crate::chain::ChainNamespace;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("not a valid EVM address: expected 0x followed by 40 hex digits")]
    EvmMalformed,
    #[error("EVM address has a wrong EIP-55 checksum (mixed case that does not match)")]
    EvmChecksum,
    #[error("not a valid Solana address: expected base58 of a 32-byte public key")]
    SolanaMalformed,
    #[error("addresses on this chain are not supported")]
    UnsupportedChain,
}

/// An account on some chain. Equality is on the bytes, so EVM addresses compare regardless of
/// the letter case they were written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Address {
    Evm([u8; 20]),
    Solana([u8; 32]),
}

impl Address {
    /// Parses an address for a chain family. EVM: all-lower and all-upper hex are accepted
    /// (they carry no checksum); mixed case must match EIP-55 exactly.
    pub fn parse(text: &str, namespace: ChainNamespace) -> Result<Self, AddressError> {
        match namespace {
            ChainNamespace::Eip155 => parse_evm(text),
            ChainNamespace::Solana => parse_solana(text),
            ChainNamespace::Other => Err(AddressError::UnsupportedChain),
        }
    }

    pub fn namespace(&self) -> ChainNamespace {
        match self {
            Address::Evm(_) => ChainNamespace::Eip155,
            Address::Solana(_) => ChainNamespace::Solana,
        }
    }

    /// The address a contract gets when `self` deploys it with CREATE at `nonce`:
    /// keccak256(rlp([sender, nonce]))[12..]. Sandbox assets have fixed addresses because the
    /// devnet deploys them from a fixed account at fixed nonces.
    pub fn evm_create(&self, nonce: u64) -> Option<Address> {
        let Address::Evm(sender) = self else {
            return None;
        };
        let be = nonce.to_be_bytes();
        let significant = &be[be.iter().position(|b| *b != 0).unwrap_or(8)..];
        let mut payload = Vec::with_capacity(30);
        payload.push(0x80 + 20);
        payload.extend_from_slice(sender);
        match significant {
            [] => payload.push(0x80),
            [single] if *single < 0x80 => payload.push(*single),
            bytes => {
                payload.push(0x80 + bytes.len() as u8);
                payload.extend_from_slice(bytes);
            }
        }
        let mut rlp = Vec::with_capacity(payload.len() + 1);
        rlp.push(0xc0 + payload.len() as u8);
        rlp.extend_from_slice(&payload);
        let hash = Keccak256::digest(&rlp);
        let mut out = [0u8; 20];
        out.copy_from_slice(&hash[12..]);
        Some(Address::Evm(out))
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Address::Evm(b) => b,
            Address::Solana(b) => b,
        }
    }
}

fn parse_evm(text: &str) -> Result<Address, AddressError> {
    let hex_part = text
        .strip_prefix("0x")
        .filter(|h| h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or(AddressError::EvmMalformed)?;
    let mut bytes = [0u8; 20];
    hex::decode_to_slice(hex_part, &mut bytes).map_err(|_| AddressError::EvmMalformed)?;
    let has_lower = hex_part.bytes().any(|b| b.is_ascii_lowercase());
    let has_upper = hex_part.bytes().any(|b| b.is_ascii_uppercase());
    if has_lower && has_upper && eip55(&bytes) != text {
        return Err(AddressError::EvmChecksum);
    }
    Ok(Address::Evm(bytes))
}

fn parse_solana(text: &str) -> Result<Address, AddressError> {
    if text.len() < 32 || text.len() > 44 {
        return Err(AddressError::SolanaMalformed);
    }
    let mut bytes = [0u8; 32];
    let written = bs58::decode(text)
        .onto(&mut bytes)
        .map_err(|_| AddressError::SolanaMalformed)?;
    if written != 32 {
        return Err(AddressError::SolanaMalformed);
    }
    Ok(Address::Solana(bytes))
}

/// EIP-55: hex digit i is upper-cased when nibble i of keccak256(lowercase hex) is >= 8.
fn eip55(bytes: &[u8; 20]) -> String {
    let lower = hex::encode(bytes);
    let hash = Keccak256::digest(lower.as_bytes());
    let mut out = String::with_capacity(42);
    out.push_str("0x");
    for (i, c) in lower.chars().enumerate() {
        let nibble = (hash[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0x0f;
        out.push(if nibble >= 8 {
            c.to_ascii_uppercase()
        } else {
            c
        });
    }
    out
}

impl fmt::Display for Address {
    /// EVM addresses print in EIP-55 checksum case; Solana keys in base58.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Evm(b) => f.write_str(&eip55(b)),
            Address::Solana(b) => f.write_str(&bs58::encode(b).into_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The test vectors published in EIP-55 itself.
    const EIP55_VECTORS: [&str; 8] = [
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        "0x52908400098527886E0F7030069857D2E4169EE7",
        "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
        "0xde709f2102306220921060314715629080e2fb77",
        "0x27b1fdb04752bbc536007a920d24acb045561c26",
    ];

    #[test]
    fn eip55_published_vectors_validate_and_print_back() {
        for v in EIP55_VECTORS {
            let a = Address::parse(v, ChainNamespace::Eip155).unwrap();
            assert_eq!(a.to_string(), v, "checksum form of {v}");
        }
    }

    #[test]
    fn wrong_case_checksum_is_rejected_but_single_case_is_accepted() {
        let good = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
        let flipped = "0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
        assert_eq!(
            Address::parse(flipped, ChainNamespace::Eip155),
            Err(AddressError::EvmChecksum)
        );
        let lower = good.to_ascii_lowercase();
        let upper = format!("0x{}", good[2..].to_ascii_uppercase());
        assert_eq!(
            Address::parse(&lower, ChainNamespace::Eip155),
            Address::parse(good, ChainNamespace::Eip155)
        );
        assert_eq!(
            Address::parse(&upper, ChainNamespace::Eip155),
            Address::parse(good, ChainNamespace::Eip155)
        );
    }

    #[test]
    fn malformed_evm_addresses_are_rejected() {
        for bad in [
            "",
            "0x",
            "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe",
            "0xZZaeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0X5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
        ] {
            assert_eq!(
                Address::parse(bad, ChainNamespace::Eip155),
                Err(AddressError::EvmMalformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn create_addresses_match_known_deployments() {
        let deployer = Address::parse(
            "0x6ac7ea33f8831ea9dcc53393aaa88b25a785dbf0",
            ChainNamespace::Eip155,
        )
        .unwrap();
        let expected = [
            (0, "0xcd234a471b72ba2f1ccf0a70fcaba648a5eecd8d"),
            (1, "0x343c43a37d37dff08ae8c4a11544c718abb4fcf8"),
            (2, "0xf778b86fa74e846c4f0a1fbd1335fe81c00a0c91"),
            (3, "0xfffd933a0bc612844eaf0c6fe3e5b8e9b6c1d19c"),
        ];
        for (nonce, want) in expected {
            let got = deployer
                .evm_create(nonce)
                .unwrap()
                .to_string()
                .to_ascii_lowercase();
            assert_eq!(got, want, "nonce {nonce}");
        }
        let big = deployer.evm_create(0x1234).unwrap();
        assert_ne!(big, deployer.evm_create(0x34).unwrap());
        let sol =
            Address::parse("11111111111111111111111111111111", ChainNamespace::Solana).unwrap();
        assert_eq!(sol.evm_create(0), None);
    }

    #[test]
    fn solana_keys_are_base58_of_32_bytes() {
        let usdc_mint = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v";
        let a = Address::parse(usdc_mint, ChainNamespace::Solana).unwrap();
        assert_eq!(a.to_string(), usdc_mint);
        let system = "11111111111111111111111111111111";
        assert!(Address::parse(system, ChainNamespace::Solana).is_ok());
        for bad in [
            "",
            "0OIl",
            "1111111111111111111111111111111",
            "111111111111111111111111111111111",
            "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1vv",
        ] {
            assert_eq!(
                Address::parse(bad, ChainNamespace::Solana),
                Err(AddressError::SolanaMalformed),
                "{bad:?}"
            );
        }
    }
}
