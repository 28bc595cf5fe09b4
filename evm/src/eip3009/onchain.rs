//! The node-facing half of EIP-3009: reading the token's domain, checking nonce and balance,
//! building the calldata and simulating it. All reads; nothing here sends a transaction.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use alloy::primitives::{Bytes, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::client::BatchRequest;
use alloy::rpc::types::{TransactionInput, TransactionRequest};
use alloy::sol_types::{decode_revert_reason, SolCall};
use rialto_core::Address;

use super::{parse_signature, Authorization, AuthorizationKind, TokenDomain};
use crate::contracts::{to_wire, IFiatToken, IERC20};
use crate::error::AuthorizationError;
use crate::EvmError;

/// Reads the token's `name()` and `version()` and the node's chain id, and refuses the domain
/// unless it reproduces the token's own `DOMAIN_SEPARATOR()`: a signature made over a domain the
/// token does not use would recover to a stranger on chain, after the payer was told it worked.
/// Read-only; safe to retry and to cache per (chain, token).
pub async fn read_domain<P: Provider>(
    provider: &P,
    token: &Address,
) -> Result<TokenDomain, EvmError> {
    let wire = to_wire(token)?;
    let contract = IFiatToken::new(wire, provider);
    let name = contract.name().call().await?;
    let version = contract.version().call().await?;
    let onchain = contract.DOMAIN_SEPARATOR().call().await?;
    let chain_id = provider.get_chain_id().await?;
    check_domain(
        TokenDomain {
            name,
            version,
            chain_id,
            verifying_contract: *token,
        },
        onchain,
    )
}

/// [`read_domain`] with the token's name, version and chain id remembered per (RPC endpoint,
/// token): each use reads only `DOMAIN_SEPARATOR()` and checks the remembered domain still
/// reproduces it (one read instead of four when a thousand payers submit at once). A token
/// upgraded to another name or version no longer matches, and its domain is read afresh.
pub async fn read_domain_cached<P: Provider>(
    provider: &P,
    endpoint: &str,
    token: &Address,
) -> Result<TokenDomain, EvmError> {
    let domains = domains();
    let key = (endpoint.to_owned(), *token);
    if let Some(domain) = remembered_domain(endpoint, token) {
        let onchain = IFiatToken::new(to_wire(token)?, provider)
            .DOMAIN_SEPARATOR()
            .call()
            .await?;
        if let Ok(domain) = check_domain(domain, onchain) {
            return Ok(domain);
        }
    }
    let domain = read_domain(provider, token).await?;
    if let Ok(mut map) = domains.lock() {
        map.insert(key, domain.clone());
    }
    Ok(domain)
}

type Domains = Mutex<HashMap<(String, Address), TokenDomain>>;

/// The domains [`read_domain_cached`] remembers, by (RPC endpoint, token).
fn domains() -> &'static Domains {
    static DOMAINS: OnceLock<Domains> = OnceLock::new();
    DOMAINS.get_or_init(Default::default)
}

/// The domain [`read_domain_cached`] remembers for `token` at `endpoint`, if any; nothing is
/// read (check it against the token's separator before use: [`Together::domain`]).
pub fn remembered_domain(endpoint: &str, token: &Address) -> Option<TokenDomain> {
    let key = (endpoint.to_owned(), *token);
    domains().lock().ok().and_then(|map| map.get(&key).cloned())
}

/// An authorization's reads, as the node answered them in one JSON-RPC batch
/// ([`read_together`]): the token's `DOMAIN_SEPARATOR()`, the nonce's state, the payer's
/// balance and the relay's simulation. Judged in the order the reads one by one are
/// ([`read_domain_cached`], [`check_onchain`], [`simulate`]).
#[derive(Debug)]
pub struct Together {
    separator: Option<Result<B256, EvmError>>,
    used: Result<bool, EvmError>,
    balance: Result<U256, EvmError>,
    simulated: Result<(), AuthorizationError>,
}

impl Together {
    /// `domain` (as remembered) if it still reproduces the token's separator; `None` when it
    /// does not (read the domain afresh: [`read_domain_cached`]).
    pub fn domain(&mut self, domain: TokenDomain) -> Result<Option<TokenDomain>, EvmError> {
        let separator = self.separator.take().unwrap_or(Ok(B256::ZERO))?;
        Ok(check_domain(domain, separator).ok())
    }

    /// What [`check_onchain`] and then [`simulate`] answer, from the batch's answers.
    pub fn verdict(self, auth: &Authorization) -> Result<(), AuthorizationError> {
        if self.used? {
            return Err(AuthorizationError::NonceUsed {
                from: auth.from,
                nonce: auth.nonce,
            });
        }
        let balance = self.balance?;
        if balance < auth.value {
            return Err(AuthorizationError::InsufficientBalance {
                from: auth.from,
                balance,
                value: auth.value,
            });
        }
        self.simulated
    }
}

/// Sends an authorization's four reads (see [`Together`]) in one JSON-RPC batch: one HTTP
/// round trip instead of four, for the gateway and for the node, when a thousand payers
/// submit at once. Each is an `eth_call` at the latest block, as one by one. Fails only when
/// the batch itself does (the node unreachable); each read's own failure is kept for its turn.
pub async fn read_together<P: Provider>(
    provider: &P,
    token: &Address,
    auth: &Authorization,
    relayer: &Address,
    calldata: &Bytes,
) -> Result<Together, EvmError> {
    let (token, from) = (to_wire(token)?, to_wire(&auth.from)?);
    let call = |data: Vec<u8>| {
        let tx = TransactionRequest::default().to(token);
        (tx.input(TransactionInput::new(data.into())),)
    };
    let mut batch = BatchRequest::new(provider.client());
    let mut add = |params| batch.add_call::<_, Bytes>("eth_call", &params);
    let separator = add(call(IFiatToken::DOMAIN_SEPARATORCall {}.abi_encode()))?;
    let used = add(call(
        IFiatToken::authorizationStateCall {
            authorizer: from,
            nonce: auth.nonce,
        }
        .abi_encode(),
    ))?;
    let balance = add(call(IERC20::balanceOfCall { account: from }.abi_encode()))?;
    let relay = TransactionRequest::default()
        .from(to_wire(relayer)?)
        .to(token)
        .input(TransactionInput::new(calldata.clone()));
    let simulated = add((relay,))?;
    batch.send().await?;
    let answer = |r: Result<Bytes, alloy::transports::TransportError>| r.map_err(EvmError::from);
    let decode = |e: alloy::sol_types::Error| EvmError::Contract(e.into());
    Ok(Together {
        separator: Some(answer(separator.await).and_then(|b| {
            IFiatToken::DOMAIN_SEPARATORCall::abi_decode_returns(&b).map_err(decode)
        })),
        used: answer(used.await).and_then(|b| {
            IFiatToken::authorizationStateCall::abi_decode_returns(&b).map_err(decode)
        }),
        balance: answer(balance.await)
            .and_then(|b| IERC20::balanceOfCall::abi_decode_returns(&b).map_err(decode)),
        simulated: simulated.await.map(|_| ()).map_err(revert_or_rpc),
    })
}

/// A simulation's failure: the token's revert reason if it reverted, else the RPC error.
fn revert_or_rpc(e: alloy::transports::TransportError) -> AuthorizationError {
    match e.as_error_resp() {
        Some(payload) if payload.message.contains("revert") => {
            let reason = payload
                .as_revert_data()
                .and_then(|data| decode_revert_reason(&data))
                .unwrap_or_else(|| payload.message.to_string());
            AuthorizationError::WouldRevert(reason)
        }
        _ => EvmError::Rpc(e).into(),
    }
}

/// The domain as read, if it reproduces the token's `DOMAIN_SEPARATOR()`.
fn check_domain(domain: TokenDomain, onchain: B256) -> Result<TokenDomain, EvmError> {
    let computed = domain.separator()?;
    if computed != onchain {
        return Err(EvmError::DomainMismatch {
            token: domain.verifying_contract.to_string(),
            domain: format!(
                "name {:?}, version {:?} on chain {}",
                domain.name, domain.version, domain.chain_id
            ),
            onchain,
            computed,
        });
    }
    Ok(domain)
}

/// The authorization's nonce is unused (not spent, not canceled) and the payer holds at least
/// `value`. Read-only; a race with another spend is still possible until it lands, which
/// [`simulate`] right before relaying narrows and the token itself finally settles.
pub async fn check_onchain<P: Provider>(
    provider: &P,
    token: &Address,
    auth: &Authorization,
) -> Result<(), AuthorizationError> {
    let token = to_wire(token)?;
    let from = to_wire(&auth.from)?;
    let used = IFiatToken::new(token, provider)
        .authorizationState(from, auth.nonce)
        .call()
        .await
        .map_err(EvmError::from)?;
    if used {
        return Err(AuthorizationError::NonceUsed {
            from: auth.from,
            nonce: auth.nonce,
        });
    }
    let balance = IERC20::new(token, provider)
        .balanceOf(from)
        .call()
        .await
        .map_err(EvmError::from)?;
    if balance < auth.value {
        return Err(AuthorizationError::InsufficientBalance {
            from: auth.from,
            balance,
            value: auth.value,
        });
    }
    Ok(())
}

/// The input of the `(v, r, s)` overload of `transferWithAuthorization` or
/// `receiveWithAuthorization`, whichever `auth.kind` names. Fails for a malformed or high-`s`
/// signature, which the token would refuse anyway.
pub fn calldata(auth: &Authorization, signature: &[u8]) -> Result<Bytes, EvmError> {
    let sig = parse_signature(signature)?;
    let (from, to) = (to_wire(&auth.from)?, to_wire(&auth.to)?);
    let (valid_after, valid_before) = (U256::from(auth.valid_after), U256::from(auth.valid_before));
    // FiatToken's ECRecover takes only 27/28.
    let v = 27 + u8::from(sig.v());
    let (r, s) = (sig.r().into(), sig.s().into());
    let encoded = match auth.kind {
        AuthorizationKind::Transfer => IFiatToken::transferWithAuthorizationCall {
            from,
            to,
            value: auth.value,
            validAfter: valid_after,
            validBefore: valid_before,
            nonce: auth.nonce,
            v,
            r,
            s,
        }
        .abi_encode(),
        AuthorizationKind::Receive => IFiatToken::receiveWithAuthorizationCall {
            from,
            to,
            value: auth.value,
            validAfter: valid_after,
            validBefore: valid_before,
            nonce: auth.nonce,
            v,
            r,
            s,
        }
        .abi_encode(),
    };
    Ok(encoded.into())
}

/// `eth_call`s `calldata` on `token` as `relayer` against the pending block. A revert comes back
/// as [`AuthorizationError::WouldRevert`] with the token's reason (e.g. "FiatTokenV2:
/// authorization is used or canceled"); a node that cannot be asked as
/// [`AuthorizationError::Chain`].
pub async fn simulate<P: Provider>(
    provider: &P,
    relayer: &Address,
    token: &Address,
    calldata: &Bytes,
) -> Result<(), AuthorizationError> {
    let tx = TransactionRequest::default()
        .from(to_wire(relayer)?)
        .to(to_wire(token)?)
        .input(TransactionInput::new(calldata.clone()));
    provider.call(tx).await.map(|_| ()).map_err(revert_or_rpc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eip3009::sign;
    use crate::eip3009::tests::{domain, payer, valid_auth};

    #[test]
    fn a_domain_that_does_not_reproduce_the_tokens_separator_is_refused() {
        let d = domain();
        let separator = d.separator().unwrap();
        assert_eq!(check_domain(d.clone(), separator).unwrap(), d);
        let guessed = TokenDomain {
            name: "USDC".into(),
            ..d.clone()
        };
        let err = check_domain(guessed, separator).unwrap_err();
        match &err {
            EvmError::DomainMismatch {
                onchain, computed, ..
            } => {
                assert_eq!(*onchain, separator);
                assert_ne!(*computed, separator);
            }
            other => panic!("expected a domain mismatch, got {other}"),
        }
        assert!(err.to_string().contains("\"USDC\""), "{err}");
    }

    #[test]
    fn transfer_calldata_decodes_back_to_the_authorization_and_its_signature() {
        let (domain, auth) = (domain(), valid_auth());
        let signature = sign(&payer(), &domain, &auth).unwrap();
        let data = calldata(&auth, &signature).unwrap();
        assert_eq!(
            data[..4],
            IFiatToken::transferWithAuthorizationCall::SELECTOR,
            "the (v, r, s) overload"
        );
        let call = IFiatToken::transferWithAuthorizationCall::abi_decode(&data).unwrap();
        assert_eq!(call.value, auth.value);
        assert_eq!(call.validBefore, U256::from(auth.valid_before));
        assert_eq!(call.nonce, auth.nonce);
        assert_eq!(crate::contracts::from_wire(call.from), auth.from);
        assert_eq!(call.r.as_slice(), &signature[..32]);
        assert_eq!(call.s.as_slice(), &signature[32..64]);
        assert_eq!(call.v, signature[64]);
    }

    #[test]
    fn receive_calldata_uses_receive_with_authorization_and_v_becomes_27_or_28() {
        let auth = Authorization {
            kind: AuthorizationKind::Receive,
            ..valid_auth()
        };
        let mut signature = sign(&payer(), &domain(), &auth).unwrap();
        let v = signature[64];
        signature[64] -= 27;
        let data = calldata(&auth, &signature).unwrap();
        let call = IFiatToken::receiveWithAuthorizationCall::abi_decode(&data).unwrap();
        assert_eq!(call.v, v, "a 0/1 parity is sent as 27/28");
        assert!(calldata(&auth, &signature[..64]).is_err());
    }
}
