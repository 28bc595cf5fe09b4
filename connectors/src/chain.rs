//! The chain role: what the engine reads from a chain beside sending legs on its [`Rail`].
//!
//! A [`ChainNode`] is one chain the gateway serves, reached through its node(s): the head and
//! block hashes (reorg checks), the token transfers of a block range (the deposit watcher), what
//! one transaction paid ([`ObservedTransfer`]: amounts are always read from the chain, never
//! taken from a payer), receipts, whether a sent leg can still be included, fee quotes, and
//! the chain's own encodings (transaction references, signed messages, payment URIs). It
//! also hands out the chain's [`Rail`] over a caller's journal.
//!
//! Everything here speaks in CAIP ids, base units, [`Address`]es and transaction references
//! (an EVM hash, a Solana signature); nothing is specific to one chain family. `rialto-evm`
//! implements it (`EvmNode`); the Solana rail will too.

use std::fmt;

use async_trait::async_trait;
use rialto_core::address::Address;
use rialto_core::ReserveReport;

use crate::rail::{ChainTransfer, LegAction, LegStatus, PlannedLeg, Rail, RailJournal, SigningKey};

/// Why a chain read failed.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// Not a transaction reference of this chain.
    #[error("not a transaction reference: {0}")]
    TxRef(String),
    /// The node knows no such transaction (yet).
    #[error("transaction {0} not found")]
    TxNotFound(String),
    /// Mined, and it failed.
    #[error("transaction {0} failed on chain")]
    TxFailed(String),
    /// Mined and successful, but it moved none of the token to the recipient.
    #[error("transaction {tx} moved no {token} to {to}")]
    NoMatchingTransfer {
        tx: String,
        token: String,
        to: String,
    },
    /// A signature or key this chain cannot use.
    #[error("signature: {0}")]
    Signature(String),
    /// A key this chain cannot derive or sign with.
    #[error("key: {0}")]
    Key(String),
    /// An address or amount outside what this chain can carry.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The node failed or could not be reached; safe to retry.
    #[error("node: {0}")]
    Node(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl ChainError {
    /// A node failure from any error.
    pub fn node(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        ChainError::Node(Box::new(err))
    }
}

/// A token transfer observed on chain: the token's transfer events of one transaction to one
/// recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedTransfer {
    /// The transaction's reference (EVM: `0x`-prefixed, lower-case hash).
    pub tx_hash: String,
    /// The sender of the first matching transfer.
    pub from: Address,
    /// Every sender of a matching transfer, in log order, with what each sent: a transaction
    /// (a batch, a relayed authorization beside another transfer) can carry several, and
    /// every one of them is someone whose funds arrived.
    pub senders: Vec<SenderPart>,
    pub to: Address,
    pub token: Address,
    /// Sum of every matching transfer of the transaction, in the token's base units.
    pub amount_units: u128,
    pub block_number: u64,
    pub block_hash: String,
    /// Of the first matching transfer.
    pub log_index: u64,
    /// Blocks on top of (and including) the transaction's block.
    pub confirmations: u64,
    /// Unix seconds of the transaction's block.
    pub block_timestamp: u64,
}

/// What one sender moved in the matching transfers of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderPart {
    pub from: Address,
    /// Sum of this sender's matching transfers, in the token's base units.
    pub amount_units: u128,
}

impl ObservedTransfer {
    /// What `sender` itself moved in the matching transfers (0 if it sent none).
    pub fn units_from(&self, sender: &Address) -> u128 {
        self.senders
            .iter()
            .filter(|p| p.from == *sender)
            .map(|p| p.amount_units)
            .sum()
    }

    /// Every distinct sender, as text, for screening.
    pub fn sender_texts(&self) -> Vec<String> {
        self.senders.iter().map(|p| p.from.to_string()).collect()
    }
}

/// One token transfer event (EVM: a `Transfer(from, to, value)` log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferLog {
    pub token: Address,
    pub from: Address,
    pub to: Address,
    pub amount_units: u128,
    /// The transaction's reference.
    pub tx_hash: String,
    pub block_number: u64,
    pub block_hash: String,
    pub log_index: u64,
}

/// A transaction that moved the chain's native coin to an address by its own value (EVM: a
/// successful transaction whose `to` is the address and whose `value` is not zero). Value a
/// contract forwards inside a transaction (an internal transfer) is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeTransfer {
    pub from: Address,
    pub to: Address,
    pub amount_units: u128,
    pub tx_hash: String,
    pub block_number: u64,
    pub block_hash: String,
}

/// A mined transaction's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub success: bool,
    pub block_number: u64,
    pub block_hash: String,
    /// Blocks on top of (and including) the transaction's block.
    pub confirmations: u64,
    /// What the sender paid the network, in the native coin's base units.
    pub fee_units: u128,
}

/// The token movement a signed transaction asks for, where it is one a token contract or
/// program makes: what reconciliation expects to find among the chain's transfers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCall {
    /// From the signer to `to`.
    Transfer { to: Address },
    /// Minted: from nobody to `to`.
    Mint { to: Address },
    /// Burned: from the signer to nobody.
    Burn,
}

/// What a leg would cost the network now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeQuote {
    /// Units of work the leg needs (EVM: gas; Solana: compute units).
    pub units: u64,
    /// The most the chain would charge per unit now (EVM: `maxFeePerGas` in wei).
    pub max_fee_per_unit: u128,
    /// What the chain charges on top of the units, whatever their price, in the native coin's
    /// base units: an OP-stack rollup's L1 data fee (0 elsewhere).
    pub fixed_fee: u128,
}

/// The keys deposit addresses derive from: one address per index, never reused. One keyring
/// serves one chain family ([`DepositKeyring::namespace`]): an EVM key is no Solana key.
pub trait DepositKeyring: Send + Sync + fmt::Debug {
    /// The chain family whose addresses this keyring derives.
    fn namespace(&self) -> rialto_core::ChainNamespace;
    /// The signing key of deposit address `index`.
    fn signing_key(&self, index: u32) -> Result<SigningKey, ChainError>;
    /// The address of index `index`.
    fn address(&self, index: u32) -> Result<Address, ChainError>;
}

/// One chain the engine reads and sends on (see the module docs). Reads are safe to retry.
#[async_trait]
pub trait ChainNode: Send + Sync + fmt::Debug {
    /// The chain, CAIP-2.
    fn chain_id(&self) -> &str;

    /// The chain's rail, recording its legs in `journal`.
    fn rail<'a>(&'a self, journal: &'a dyn RailJournal) -> Box<dyn Rail + 'a>;

    /// Moves to the next endpoint after the one in use failed (no-op with one endpoint).
    fn fail_over(&self);

    /// The address `key` signs as on this chain.
    fn address_of(&self, key: &SigningKey) -> Result<Address, ChainError>;

    /// A transaction reference in the chain's canonical form (EVM: `0x` and 64 lower-case hex
    /// digits); anything else is [`ChainError::TxRef`].
    fn parse_tx_ref(&self, text: &str) -> Result<String, ChainError>;

    /// Who signed `message` with the chain's message signature (EVM: `personal_sign`).
    fn recover_signer(&self, message: &str, signature: &[u8]) -> Result<Address, ChainError>;

    /// Whether `account`, a smart-contract account, accepts `signature` over `message` signed
    /// as [`ChainNode::recover_signer`] reads it (EVM: EIP-1271 `isValidSignature` over the
    /// EIP-191 hash, answering the magic value `0x1626ba7e`). `false` for an account with no
    /// code, or one that refuses or reverts; an error only when the node cannot be read.
    /// Reads only: safe to retry.
    async fn contract_accepts_signature(
        &self,
        account: &Address,
        message: &str,
        signature: &[u8],
    ) -> Result<bool, ChainError>;

    /// A payment request URI a wallet opens to pay `units` of `token` to `to` (EVM: EIP-681).
    fn payment_uri(&self, token: &Address, to: &Address, units: u128) -> String;

    /// A transfer of `units` of `token` to `to` from Rialto's own address, with the fee
    /// head-room such a leg needs on this chain.
    fn token_transfer(&self, token: &Address, to: &Address, units: u128) -> PlannedLeg;

    /// The token movement a signed transaction (the chain's own encoding, as a rail leg's
    /// `raw_tx` holds it) asks for; `None` for anything else (a swap, a native transfer).
    fn token_call(&self, raw_tx: &str) -> Option<TokenCall>;

    /// The head's block number.
    async fn head(&self) -> Result<u64, ChainError>;

    /// The hash of block `number`, if the chain has it.
    async fn block_hash(&self, number: u64) -> Result<Option<String>, ChainError>;

    /// Transfers of `tokens` in blocks `from..=to`.
    async fn transfer_logs(
        &self,
        tokens: &[Address],
        from: u64,
        to: u64,
    ) -> Result<Vec<TransferLog>, ChainError>;

    /// What transaction `tx` paid `to` in `token`: mined, successful, with at least one
    /// matching transfer ([`ChainError::TxNotFound`], [`ChainError::TxFailed`],
    /// [`ChainError::NoMatchingTransfer`] otherwise).
    async fn observe_transfer(
        &self,
        tx: &str,
        token: &Address,
        to: &Address,
    ) -> Result<ObservedTransfer, ChainError>;

    /// The receipt of `tx`, if it is mined.
    async fn receipt(&self, tx: &str) -> Result<Option<Receipt>, ChainError>;

    /// Whether a sent leg (`tx`, signed by `from` at sequence number `sequence`) can no longer
    /// be included: the node has neither it nor its receipt, and the sender's sequence has
    /// moved past it.
    async fn leg_lost(&self, tx: &str, from: &Address, sequence: u64) -> Result<bool, ChainError>;

    /// What `action`, sent by `from`, would cost now.
    async fn fee_quote(&self, from: &Address, action: &LegAction) -> Result<FeeQuote, ChainError>;

    /// The price of one unit of work now, in the native coin's base units (EVM: gas price).
    async fn unit_price(&self) -> Result<u128, ChainError>;

    /// A fresh key for one payment request to carry (Solana Pay's `reference`), so that its
    /// payment is found on chain by that key alone; `None` on chains that find payments
    /// otherwise (EVM: deposit addresses and reports).
    fn payment_reference(&self) -> Option<Address> {
        None
    }

    /// The successful transactions naming `reference`, oldest first (Solana:
    /// `getSignaturesForAddress`). Reads only: safe to retry.
    async fn transactions_naming(&self, _reference: &Address) -> Result<Vec<String>, ChainError> {
        Ok(Vec::new())
    }

    /// The successful transactions naming `reference` that came after `after` (one this
    /// method or [`ChainNode::transactions_naming`] answered), oldest first: a watcher that
    /// remembers the newest transaction it judged reads only new ones. Chains that can ask the
    /// node for "newer than" override it; this default reads them all and drops the rest.
    async fn transactions_naming_after(
        &self,
        reference: &Address,
        after: Option<&str>,
    ) -> Result<Vec<String>, ChainError> {
        let all = self.transactions_naming(reference).await?;
        Ok(match after.and_then(|a| all.iter().position(|t| t == a)) {
            Some(at) => all[at + 1..].to_vec(),
            None => all,
        })
    }

    /// Whether `holder` is on the allow-list of the permissioned deposit token at `token`
    /// (the contract's own view, read now). Reads only: safe to retry. Chains that cannot
    /// read one answer [`ChainError::Invalid`], so a caller refuses rather than assumes.
    async fn holder_allowed(
        &self,
        _token: &Address,
        _holder: &Address,
    ) -> Result<bool, ChainError> {
        Err(ChainError::Invalid(
            "this chain cannot read a deposit token's allow-list".into(),
        ))
    }

    /// An unsigned transaction for `payer` to sign and send that pays `units` of `token` to
    /// `to` and names `reference`, in the chain's own encoding (Solana Pay transaction
    /// requests: a base64 serialized transaction, fee payer `payer`).
    async fn payment_transaction(
        &self,
        _payer: &Address,
        _token: &Address,
        _to: &Address,
        _units: u128,
        _reference: &Address,
    ) -> Result<String, ChainError> {
        Err(ChainError::Invalid(
            "this chain builds no payment transactions for payers".into(),
        ))
    }

    /// The native-coin transfers into any of `to` in blocks `from..=to_block`
    /// ([`NativeTransfer`]), in chain order: the misdirected-deposit watcher's read. Reads
    /// only: safe to retry. Chains that cannot list them answer none.
    async fn native_transfers(
        &self,
        _to: &[Address],
        _from: u64,
        _to_block: u64,
    ) -> Result<Vec<NativeTransfer>, ChainError> {
        Ok(Vec::new())
    }

    /// Proof of Reserve: the latest report of the reserve feed at `feed` (Chainlink's
    /// aggregator interface, `answer` = reserves). Reads only: safe to retry. A feed that
    /// answers no usable report (negative, incomplete round) is an error, not a breach;
    /// freshness and coverage are judged by `rialto_core::reserves::PorGuard`. Chains with no
    /// reserve feeds answer [`ChainError::Invalid`].
    async fn reserve_report(&self, _feed: &Address) -> Result<ReserveReport, ChainError> {
        Err(ChainError::Invalid(
            "this chain reads no reserve feeds".into(),
        ))
    }

    /// What `holder` holds of `token` now, in its base units. Reads only: safe to retry.
    async fn token_balance_units(
        &self,
        _token: &Address,
        _holder: &Address,
    ) -> Result<u128, ChainError> {
        Err(ChainError::Invalid(
            "this chain reads no token balances".into(),
        ))
    }

    /// The token's total supply on this chain, in its base units. Reads only: safe to retry.
    async fn total_supply_units(&self, _token: &Address) -> Result<u128, ChainError> {
        Err(ChainError::Invalid(
            "this chain reads no token supplies".into(),
        ))
    }
}

/// One recorded rail leg, as a step of a multi-transaction flow (a swap, a bridge transfer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegStep {
    /// Recorded, in flight.
    Open,
    Confirmed,
    /// Mined and failed, with the rail's reason.
    Reverted(String),
    /// The chain can no longer include it ([`ChainNode::leg_lost`]): whether something else
    /// happened in its place cannot be told here; reconciliation resolves it.
    Lost,
}

/// Where a recorded leg is (after the rail drove it).
pub async fn leg_step(node: &dyn ChainNode, leg: &ChainTransfer) -> Result<LegStep, ChainError> {
    Ok(match leg.status {
        LegStatus::Confirmed => LegStep::Confirmed,
        LegStatus::Failed => LegStep::Reverted(
            leg.failure
                .clone()
                .unwrap_or_else(|| "reverted on chain".into()),
        ),
        LegStatus::Submitted => {
            let namespace = leg
                .draft
                .chain_id
                .parse::<rialto_core::ChainId>()
                .map_err(|e| ChainError::Invalid(format!("leg chain {}: {e}", leg.draft.chain_id)))?
                .namespace();
            let from = Address::parse(&leg.draft.from, namespace)
                .map_err(|e| ChainError::Invalid(format!("leg sender {}: {e}", leg.draft.from)))?;
            if node.leg_lost(&leg.tx_hash, &from, leg.nonce).await? {
                LegStep::Lost
            } else {
                LegStep::Open
            }
        }
        LegStatus::Pending => LegStep::Open,
    })
}

/// A URL for messages, logs and `Debug`: scheme, host and port only. A password or a bare
/// userinfo token becomes `***`, and so does everything after the host (path, query and
/// fragment), where RPC providers put their API keys (`/v2/<key>`, `?apikey=`).
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return "***".to_owned();
    };
    let (scheme, rest) = url.split_at(scheme_end + 3);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("***@{host}"),
        },
        None => authority.to_owned(),
    };
    let tail = if tail.is_empty() || tail == "/" {
        tail
    } else {
        "/***"
    };
    format!("{scheme}{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_api_keys_never_reach_a_log_line() {
        assert_eq!(
            redact_url("https://user:secret@rpc.example/v1"),
            "https://user:***@rpc.example/***"
        );
        assert_eq!(
            redact_url("https://token@rpc.example"),
            "https://***@rpc.example"
        );
        assert_eq!(redact_url("http://127.0.0.1:8545"), "http://127.0.0.1:8545");
        assert_eq!(
            redact_url("http://127.0.0.1:8545/"),
            "http://127.0.0.1:8545/"
        );
        // Alchemy and Infura put the key in the path; others in the query.
        assert_eq!(
            redact_url("https://eth-mainnet.g.alchemy.com/v2/AbCdEf123"),
            "https://eth-mainnet.g.alchemy.com/***"
        );
        assert_eq!(
            redact_url("https://mainnet.infura.io/v3/0123456789abcdef"),
            "https://mainnet.infura.io/***"
        );
        assert_eq!(
            redact_url("https://rpc.example?apikey=secret"),
            "https://rpc.example/***"
        );
        assert_eq!(
            redact_url("postgres://rialto:pw@db:5432/rialto?sslmode=require"),
            "postgres://rialto:***@db:5432/***"
        );
        assert_eq!(redact_url("not a url with a key"), "***");
    }
}
