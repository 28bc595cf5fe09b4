//! [`EvmNode`]: the chain role of `rialto-connectors` ([`ChainNode`]) on one EVM chain, and
//! the mapping of [`EvmError`] into the role's [`ChainError`].

use alloy::consensus::{Transaction, TxEnvelope};
use alloy::eips::eip2718::Decodable2718;
use alloy::primitives::U256;
use alloy::providers::Provider;
use async_trait::async_trait;
use rialto_connectors::chain::{
    ChainError, ChainNode, DepositKeyring, FeeQuote, NativeTransfer, ObservedTransfer, Receipt,
    TokenCall, TransferLog,
};
use rialto_connectors::rail::{FeeLimits, LegAction, PlannedLeg, Rail, RailJournal, SigningKey};
use rialto_core::address::Address;
use rialto_core::ReserveReport;

use crate::chain::EvmChain;
use crate::deposit::DepositKeys;
use crate::rail::{call_of, signer_of, EvmRail, TOKEN_GAS_HEADROOM};
use crate::sender::{self, CallSpec};
use crate::EvmError;

impl From<EvmError> for ChainError {
    fn from(err: EvmError) -> Self {
        match err {
            EvmError::TxHash(tx) => ChainError::TxRef(tx),
            EvmError::TxNotFound(tx) => ChainError::TxNotFound(tx),
            EvmError::TxFailed(tx) => ChainError::TxFailed(tx),
            EvmError::NoMatchingTransfer {
                tx,
                token,
                recipient,
            } => ChainError::NoMatchingTransfer {
                tx,
                token,
                to: recipient,
            },
            EvmError::InvalidSignature(why) => ChainError::Signature(why.to_owned()),
            EvmError::Key(why) => ChainError::Key(why),
            e @ (EvmError::InvalidMnemonic(_)
            | EvmError::DepositIndexOutOfRange(_)
            | EvmError::DepositDerivation { .. }) => ChainError::Key(e.to_string()),
            e @ (EvmError::NotEvmAddress(_) | EvmError::Amount(_)) => {
                ChainError::Invalid(e.to_string())
            }
            other => ChainError::node(other),
        }
    }
}

/// [`ChainNode`] over one EVM chain's JSON-RPC endpoints (one shared provider per endpoint,
/// with timeouts: [`crate::provider`]).
#[derive(Debug, Clone)]
pub struct EvmNode {
    pub chain: EvmChain,
}

impl EvmNode {
    pub fn new(chain: EvmChain) -> Self {
        Self { chain }
    }
}

#[async_trait]
impl ChainNode for EvmNode {
    fn chain_id(&self) -> &str {
        &self.chain.caip2
    }

    fn rail<'a>(&'a self, journal: &'a dyn RailJournal) -> Box<dyn Rail + 'a> {
        Box::new(EvmRail::new(&self.chain, journal))
    }

    fn fail_over(&self) {
        self.chain.fail_over();
    }

    fn address_of(&self, key: &SigningKey) -> Result<Address, ChainError> {
        let signer = signer_of(key).map_err(|e| ChainError::Key(e.to_string()))?;
        Ok(sender::signer_address(&signer))
    }

    fn parse_tx_ref(&self, text: &str) -> Result<String, ChainError> {
        Ok(format!("{:#x}", crate::transfers::parse_tx_hash(text)?))
    }

    fn recover_signer(&self, message: &str, signature: &[u8]) -> Result<Address, ChainError> {
        Ok(crate::eip3009::recover_personal(message, signature)?)
    }

    async fn contract_accepts_signature(
        &self,
        account: &Address,
        message: &str,
        signature: &[u8],
    ) -> Result<bool, ChainError> {
        Ok(
            crate::eip1271::contract_accepts(self.chain.rpc_url(), account, message, signature)
                .await?,
        )
    }

    fn payment_uri(&self, token: &Address, to: &Address, units: u128) -> String {
        crate::deposit::eip681_token_transfer(self.chain.chain_id, token, to, U256::from(units))
    }

    fn token_transfer(&self, token: &Address, to: &Address, units: u128) -> PlannedLeg {
        PlannedLeg {
            action: LegAction::Transfer {
                asset: Some(*token),
                to: *to,
                amount: units,
            },
            fees: FeeLimits {
                max_fee_per_unit: None,
                extra_units: TOKEN_GAS_HEADROOM,
                pinned: false,
                fixed_units: None,
            },
        }
    }

    fn token_call(&self, raw_tx: &str) -> Option<TokenCall> {
        token_call(raw_tx)
    }

    async fn head(&self) -> Result<u64, ChainError> {
        Ok(crate::watch::head(self.chain.rpc_url()).await?)
    }

    async fn block_hash(&self, number: u64) -> Result<Option<String>, ChainError> {
        Ok(crate::watch::block_hash(self.chain.rpc_url(), number).await?)
    }

    async fn transfer_logs(
        &self,
        tokens: &[Address],
        from: u64,
        to: u64,
    ) -> Result<Vec<TransferLog>, ChainError> {
        Ok(crate::watch::transfer_logs(self.chain.rpc_url(), tokens, from, to).await?)
    }

    async fn native_transfers(
        &self,
        to: &[Address],
        from: u64,
        to_block: u64,
    ) -> Result<Vec<NativeTransfer>, ChainError> {
        Ok(crate::watch::native_transfers(self.chain.rpc_url(), to, from, to_block).await?)
    }

    async fn observe_transfer(
        &self,
        tx: &str,
        token: &Address,
        to: &Address,
    ) -> Result<ObservedTransfer, ChainError> {
        Ok(crate::transfers::observe_transfer(self.chain.rpc_url(), tx, token, to).await?)
    }

    async fn holder_allowed(&self, token: &Address, holder: &Address) -> Result<bool, ChainError> {
        let node = crate::provider::provider(self.chain.rpc_url())?;
        Ok(crate::deposit_token::is_allowed(&node, token, holder).await?)
    }

    async fn receipt(&self, tx: &str) -> Result<Option<Receipt>, ChainError> {
        Ok(sender::mined(self.chain.rpc_url(), tx)
            .await?
            .map(|m| Receipt {
                success: m.success,
                block_number: m.block_number,
                block_hash: m.block_hash,
                confirmations: m.confirmations,
                fee_units: m.fee_wei,
            }))
    }

    async fn leg_lost(&self, tx: &str, from: &Address, sequence: u64) -> Result<bool, ChainError> {
        let hash = crate::transfers::parse_tx_hash(tx)?;
        let from = sender::wire(from)?;
        let node = crate::provider::provider(self.chain.rpc_url())?;
        if node
            .get_transaction_by_hash(hash)
            .await
            .map_err(EvmError::from)?
            .is_some()
        {
            return Ok(false);
        }
        let mined_nonce = node
            .get_transaction_count(from)
            .latest()
            .await
            .map_err(EvmError::from)?;
        if mined_nonce <= sequence {
            return Ok(false);
        }
        // Mined between the two reads?
        let receipt = node
            .get_transaction_receipt(hash)
            .await
            .map_err(EvmError::from)?;
        Ok(receipt.is_none())
    }

    async fn fee_quote(&self, from: &Address, action: &LegAction) -> Result<FeeQuote, ChainError> {
        let call = call_of(action).map_err(|e| ChainError::Invalid(e.to_string()))?;
        let spec = CallSpec {
            chain_id: self.chain.chain_id,
            to: call.to,
            value: call.value,
            data: call.data.into(),
            gas_limit: 0,
        };
        let rpc = self.chain.rpc_url();
        let units = sender::estimate_gas(rpc, from, &spec).await?;
        let fees = sender::estimate_fees(rpc).await?;
        let fixed_fee = match self.chain.l1_fee_oracle {
            Some(oracle) => {
                let spec = CallSpec {
                    gas_limit: units,
                    ..spec
                };
                crate::l1_fee::estimate(rpc, &oracle, &spec, fees).await?
            }
            None => 0,
        };
        Ok(FeeQuote {
            units,
            max_fee_per_unit: fees.max_fee_per_gas,
            fixed_fee,
        })
    }

    async fn unit_price(&self) -> Result<u128, ChainError> {
        let node = crate::provider::provider(self.chain.rpc_url())?;
        Ok(node.get_gas_price().await.map_err(EvmError::from)?)
    }

    async fn reserve_report(&self, feed: &Address) -> Result<ReserveReport, ChainError> {
        let node = crate::provider::provider(self.chain.rpc_url())?;
        Ok(crate::reserves::read_reserves(&node, feed).await?)
    }

    async fn token_balance_units(
        &self,
        token: &Address,
        holder: &Address,
    ) -> Result<u128, ChainError> {
        let node = crate::provider::provider(self.chain.rpc_url())?;
        let contract = crate::contracts::IERC20::new(crate::contracts::to_wire(token)?, &node);
        let units = contract
            .balanceOf(crate::contracts::to_wire(holder)?)
            .call()
            .await
            .map_err(EvmError::from)?;
        u128::try_from(units)
            .map_err(|_| ChainError::Invalid(format!("balance in {token} exceeds 128 bits")))
    }

    async fn total_supply_units(&self, token: &Address) -> Result<u128, ChainError> {
        let node = crate::provider::provider(self.chain.rpc_url())?;
        let contract = crate::contracts::IERC20::new(crate::contracts::to_wire(token)?, &node);
        let units = contract
            .totalSupply()
            .call()
            .await
            .map_err(EvmError::from)?;
        u128::try_from(units)
            .map_err(|_| ChainError::Invalid(format!("totalSupply of {token} exceeds 128 bits")))
    }
}

/// Decodes the token call of a signed EIP-2718 transaction: `transfer(to, amount)`,
/// `mint(to, amount)` or `burn(amount)`; anything else (a swap, an approval) is `None`.
pub fn token_call(raw_tx: &str) -> Option<TokenCall> {
    const TRANSFER: [u8; 4] = [0xa9, 0x05, 0x9c, 0xbb];
    const MINT: [u8; 4] = [0x40, 0xc1, 0x0f, 0x19];
    const BURN: [u8; 4] = [0x42, 0x96, 0x6c, 0x68];
    let bytes = alloy::hex::decode(raw_tx.strip_prefix("0x")?).ok()?;
    let tx = TxEnvelope::decode_2718(&mut bytes.as_slice()).ok()?;
    let input = tx.input();
    let selector: [u8; 4] = input.get(..4)?.try_into().ok()?;
    let to = || {
        let bytes: [u8; 20] = input.get(16..36)?.try_into().ok()?;
        Some(crate::contracts::from_wire(
            alloy::primitives::Address::from(bytes),
        ))
    };
    match (selector, input.len()) {
        (TRANSFER, 68) => Some(TokenCall::Transfer { to: to()? }),
        (MINT, 68) => Some(TokenCall::Mint { to: to()? }),
        (BURN, 36) => Some(TokenCall::Burn),
        _ => None,
    }
}

impl DepositKeyring for DepositKeys {
    fn namespace(&self) -> rialto_core::ChainNamespace {
        rialto_core::ChainNamespace::Eip155
    }

    fn signing_key(&self, index: u32) -> Result<SigningKey, ChainError> {
        Ok(DepositKeys::signing_key(self, index)?)
    }

    fn address(&self, index: u32) -> Result<Address, ChainError> {
        Ok(DepositKeys::address(self, index)?)
    }
}
