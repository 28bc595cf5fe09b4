//! Gasless USDC/EURC payments: EIP-3009 authorizations on Circle's FiatToken v2.2.
//!
//! The payer signs an EIP-712 message (`TransferWithAuthorization` or
//! `ReceiveWithAuthorization`) instead of sending a transaction; anyone holding the signature can
//! submit it, paying the gas. The gateway checks an authorization in three steps, cheapest
//! first: [`verify_offchain`] (signature, recipient, amount, validity window, chain, token,
//! nonce), [`check_onchain`] (nonce unused, balance enough) and [`simulate`] (an `eth_call` of
//! the exact [`calldata`] from the relayer). Only then does it relay.
//!
//! Which kind the gateway relays: `receiveWithAuthorization` requires `msg.sender == to`, so only
//! the payee can submit it. The gateway relays from its hot wallet, which is not the payee, so it
//! relays [`AuthorizationKind::Transfer`]; a `Receive` authorization must be submitted by the
//! payee itself, and [`verify_offchain`] refuses one whose payee is not the relayer.
//!
//! Nonces: EIP-3009 nonces are arbitrary 32 bytes, unique per payer. Rialto derives them from the
//! payment intent with [`intent_nonce`], so a signed authorization belongs to exactly one intent
//! on one chain and token, and two submissions for the same intent can never both land: the
//! token marks `(from, nonce)` used on the first.

mod onchain;

use alloy::primitives::{keccak256, Signature, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use alloy::sol_types::SolValue;
use rialto_core::Address;

pub use onchain::{
    calldata, check_onchain, read_domain, read_domain_cached, read_together, remembered_domain,
    simulate, Together,
};

use crate::contracts::to_wire;
use crate::error::AuthorizationError;
use crate::EvmError;

const EIP712_DOMAIN_TYPE: &str =
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";
const TRANSFER_TYPE: &str = "TransferWithAuthorization(address from,address to,uint256 value,\
                             uint256 validAfter,uint256 validBefore,bytes32 nonce)";
const RECEIVE_TYPE: &str = "ReceiveWithAuthorization(address from,address to,uint256 value,\
                            uint256 validAfter,uint256 validBefore,bytes32 nonce)";
/// Versioned, so a future change of the nonce scheme can never collide with today's nonces.
const INTENT_NONCE_TAG: &str = "rialto:eip3009:intent-nonce:v1";

/// Which FiatToken function the authorization is for; each has its own EIP-712 type, so a
/// signature for one can never be used as the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizationKind {
    /// `transferWithAuthorization`: anyone may submit it (the gateway relays these).
    Transfer,
    /// `receiveWithAuthorization`: only `to` may submit it, which stops a front-runner from
    /// spending the authorization in a way the payee did not expect.
    Receive,
}

impl AuthorizationKind {
    /// The EIP-712 type string, exactly as FiatToken hashes it.
    pub fn type_string(self) -> &'static str {
        match self {
            AuthorizationKind::Transfer => TRANSFER_TYPE,
            AuthorizationKind::Receive => RECEIVE_TYPE,
        }
    }

    /// `keccak256(type_string)`: FiatToken's `TRANSFER_WITH_AUTHORIZATION_TYPEHASH` or
    /// `RECEIVE_WITH_AUTHORIZATION_TYPEHASH`.
    pub fn typehash(self) -> B256 {
        keccak256(self.type_string())
    }
}

/// The fields a payer signs. `value` is in the token's base units (USDC: 6 decimals);
/// `valid_after` / `valid_before` are unix seconds, both exclusive, as FiatToken checks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub kind: AuthorizationKind,
    pub from: Address,
    pub to: Address,
    pub value: U256,
    pub valid_after: u64,
    pub valid_before: u64,
    pub nonce: B256,
}

/// A token's EIP-712 domain. Read it from the token with [`read_domain`], which checks it against
/// the token's own `DOMAIN_SEPARATOR()`, rather than building it by hand: Circle's USDC is named
/// "USDC" on some chains and "USD Coin" on others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenDomain {
    pub name: String,
    pub version: String,
    pub chain_id: u64,
    pub verifying_contract: Address,
}

impl TokenDomain {
    pub fn separator(&self) -> Result<B256, EvmError> {
        Ok(domain_separator(
            &self.name,
            &self.version,
            self.chain_id,
            &to_wire(&self.verifying_contract)?,
        ))
    }
}

/// What the gateway expects of an authorization for one payment intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedPayment {
    /// The chain the intent is paid on.
    pub chain_id: u64,
    /// The token contract (the domain's verifying contract).
    pub token: Address,
    /// The intent's pay-to address.
    pub to: Address,
    /// The least `value` that pays the intent, in base units; more is accepted (the gateway
    /// records an overpayment).
    pub min_value: U256,
    /// [`intent_nonce`] of the intent.
    pub nonce: B256,
    /// The account that will submit the authorization (the gateway's hot wallet).
    pub relayer: Address,
}

/// EIP-712's `hashStruct(EIP712Domain)` for the four-field domain FiatToken uses (no salt).
pub fn domain_separator(
    name: &str,
    version: &str,
    chain_id: u64,
    verifying_contract: &alloy::primitives::Address,
) -> B256 {
    let encoded = (
        keccak256(EIP712_DOMAIN_TYPE),
        keccak256(name),
        keccak256(version),
        U256::from(chain_id),
        *verifying_contract,
    )
        .abi_encode_params();
    keccak256(encoded)
}

/// EIP-712's final digest: `keccak256("\x19\x01" ‖ domainSeparator ‖ hashStruct(message))`.
pub fn typed_data_digest(domain_separator: B256, struct_hash: B256) -> B256 {
    let mut buf = [0u8; 66];
    buf[..2].copy_from_slice(b"\x19\x01");
    buf[2..34].copy_from_slice(domain_separator.as_slice());
    buf[34..].copy_from_slice(struct_hash.as_slice());
    keccak256(buf)
}

/// `hashStruct` of the authorization: every field is a static type, so `encodeData` is the
/// plain ABI encoding of the fields after the typehash.
pub fn struct_hash(auth: &Authorization) -> Result<B256, EvmError> {
    let encoded = (
        auth.kind.typehash(),
        to_wire(&auth.from)?,
        to_wire(&auth.to)?,
        auth.value,
        U256::from(auth.valid_after),
        U256::from(auth.valid_before),
        auth.nonce,
    )
        .abi_encode_params();
    Ok(keccak256(encoded))
}

/// The digest the payer signs (and FiatToken recovers from). Fails only for non-EVM addresses.
pub fn signing_digest(domain: &TokenDomain, auth: &Authorization) -> Result<B256, EvmError> {
    Ok(typed_data_digest(domain.separator()?, struct_hash(auth)?))
}

/// The nonce that binds an authorization to one payment intent on one chain and token:
/// `keccak256(abi.encode(string tag, string intent_id, uint256 chain_id, bytes token))` with
/// `tag = "rialto:eip3009:intent-nonce:v1"` and `token` the contract's 20 raw address bytes.
/// The ABI encoding is injective (strings and bytes are length-prefixed), so no two
/// (intent, chain, token) triples share a nonce, and a client (sdk-ts) can compute the same value
/// with any ABI encoder.
pub fn intent_nonce(intent_id: &str, chain_id: u64, token: &Address) -> B256 {
    let encoded = (
        INTENT_NONCE_TAG.to_owned(),
        intent_id.to_owned(),
        U256::from(chain_id),
        alloy::primitives::Bytes::copy_from_slice(token.as_bytes()),
    )
        .abi_encode_params();
    keccak256(encoded)
}

/// Signs the authorization as `signer` would in a wallet (`eth_signTypedData_v4`): 65 bytes
/// `r ‖ s ‖ v` with `v` 27 or 28 and a low `s`. For tests and SDK parity; the gateway never holds
/// payers' keys.
pub fn sign(
    signer: &PrivateKeySigner,
    domain: &TokenDomain,
    auth: &Authorization,
) -> Result<[u8; 65], EvmError> {
    let digest = signing_digest(domain, auth)?;
    let signature = signer
        .sign_hash_sync(&digest)
        .map_err(|e| EvmError::Signing(e.to_string()))?;
    Ok(signature.as_bytes())
}

/// Parses `r ‖ s ‖ v` the way FiatToken's `ECRecover` accepts it: exactly 65 bytes, non-zero
/// `r` and `s`, `s` in the lower half of the curve order (a high `s` is the malleable twin of a
/// valid signature and FiatToken refuses it). `v` may be 27/28 or, as some hardware wallets
/// give it, 0/1; [`calldata`] always sends 27/28.
pub(crate) fn parse_signature(bytes: &[u8]) -> Result<Signature, EvmError> {
    let bytes: &[u8; 65] = bytes
        .try_into()
        .map_err(|_| EvmError::InvalidSignature("expected 65 bytes r ‖ s ‖ v"))?;
    let parity = match bytes[64] {
        0 | 27 => false,
        1 | 28 => true,
        _ => return Err(EvmError::InvalidSignature("v must be 27 or 28")),
    };
    let signature = Signature::from_bytes_and_parity(&bytes[..64], parity);
    if signature.r().is_zero() || signature.s().is_zero() {
        return Err(EvmError::InvalidSignature("r and s must be non-zero"));
    }
    if signature.normalize_s().is_some() {
        return Err(EvmError::InvalidSignature(
            "s is in the upper half of the curve order (malleable)",
        ));
    }
    Ok(signature)
}

/// The address that signed `message` with `personal_sign` (EIP-191), from a 65-byte
/// r ‖ s ‖ v signature.
pub fn recover_personal(message: &str, signature: &[u8]) -> Result<Address, EvmError> {
    let signature = parse_signature(signature)?;
    let signer = signature
        .recover_address_from_msg(message.as_bytes())
        .map_err(|_| EvmError::InvalidSignature("no public key recovers from it"))?;
    Ok(crate::contracts::from_wire(signer))
}

/// The address that signed `auth` under `domain`. A well-formed signature by the wrong key
/// recovers to some other address; compare with `auth.from` (as [`verify_offchain`] does).
pub fn recover(
    domain: &TokenDomain,
    auth: &Authorization,
    signature: &[u8],
) -> Result<Address, EvmError> {
    let signature = parse_signature(signature)?;
    let digest = signing_digest(domain, auth)?;
    let signer = signature
        .recover_address_from_prehash(&digest)
        .map_err(|_| EvmError::InvalidSignature("no public key recovers from it"))?;
    Ok(crate::contracts::from_wire(signer))
}

/// Everything that can be checked without a node: the domain is the expected chain's and token's,
/// the payee can submit a `Receive`, the recipient and nonce are the intent's, the payer signed
/// it, it moves at least `min_value` and `now_unix` is inside its window. The window is exclusive
/// at both ends, exactly as FiatToken checks `block.timestamp`, so an authorization accepted here
/// at the chain's time is not refused there for its window.
pub fn verify_offchain(
    domain: &TokenDomain,
    auth: &Authorization,
    signature: &[u8],
    expected: &ExpectedPayment,
    now_unix: u64,
) -> Result<(), AuthorizationError> {
    if domain.chain_id != expected.chain_id {
        return Err(AuthorizationError::WrongChain {
            expected: expected.chain_id,
            actual: domain.chain_id,
        });
    }
    if domain.verifying_contract != expected.token {
        return Err(AuthorizationError::WrongToken {
            expected: expected.token,
            actual: domain.verifying_contract,
        });
    }
    if auth.kind == AuthorizationKind::Receive && auth.to != expected.relayer {
        return Err(AuthorizationError::ReceiveNeedsPayee {
            to: auth.to,
            relayer: expected.relayer,
        });
    }
    if auth.to != expected.to {
        return Err(AuthorizationError::WrongRecipient {
            expected: expected.to,
            actual: auth.to,
        });
    }
    if auth.nonce != expected.nonce {
        return Err(AuthorizationError::WrongNonce {
            expected: expected.nonce,
            actual: auth.nonce,
        });
    }
    let signer = recover(domain, auth, signature).map_err(|e| match e {
        EvmError::InvalidSignature(reason) => AuthorizationError::BadSignature(reason),
        _ => AuthorizationError::BadSignature("the authorization names a non-EVM address"),
    })?;
    if signer != auth.from {
        return Err(AuthorizationError::SignerMismatch {
            signer,
            from: auth.from,
        });
    }
    if auth.value < expected.min_value {
        return Err(AuthorizationError::WrongAmount {
            minimum: expected.min_value,
            actual: auth.value,
        });
    }
    if now_unix <= auth.valid_after {
        return Err(AuthorizationError::NotYetValid {
            valid_after: auth.valid_after,
            now: now_unix,
        });
    }
    if now_unix >= auth.valid_before {
        return Err(AuthorizationError::Expired {
            valid_before: auth.valid_before,
            now: now_unix,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
