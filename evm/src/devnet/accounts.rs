//! The sandbox accounts: anvil's default accounts, derived from the public test mnemonic
//! `test test … junk`. Their keys are published in anvil's and hardhat's docs; they hold money
//! only on local devnets. Each role gets its own account so a mistake in one (say, the proxy
//! admin calling a token function) shows up as the revert it would be on a real chain.

use alloy::network::EthereumWallet;
use alloy::primitives::Address as WireAddress;
use alloy::signers::local::PrivateKeySigner;

use crate::EvmError;

/// anvil's default private keys, indexed by account number.
const ANVIL_KEYS: [&str; 12] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
    "0xf214f2b2cd398c806f84e317254e0f0b801d0643303237d97a22a48e01628897",
    "0x701b615bbdfb9de65240bc28bd21bbc0d996645a3dd57e7b12bc2bdf6f192c82",
];

/// The devnet CCIP relayer, stand-in for Chainlink's DON (an off-ramp on every router).
pub(crate) const CCIP_RELAYER: usize = 0;
/// The devnet issuing bank: every role of the deposit token.
pub(crate) const ISSUING_BANK: usize = 4;
/// An allow-listed institution holding deposit tokens.
pub(crate) const INSTITUTION_PAYER: usize = 5;
/// The payers' account numbers.
pub(crate) const PAYERS: [usize; 3] = [1, 2, 3];
pub(crate) const MINTER: usize = 6;
pub(crate) const PROXY_ADMIN: usize = 7;
pub(crate) const GATEWAY_HOT_WALLET: usize = 8;
/// The relaying keys besides the hot wallet: nonce lanes for batched EIP-3009 relays.
pub(crate) const RELAY_LANES: [usize; 2] = [10, 11];
/// Fixed because the sandbox token addresses are CREATE addresses of (deployer, nonce).
pub(crate) const DEPLOYER: usize = 9;

/// One sandbox account: its number, key text (for the manifest) and signer.
#[derive(Debug, Clone)]
pub(crate) struct SandboxAccount {
    pub key_hex: &'static str,
    pub signer: PrivateKeySigner,
}

impl SandboxAccount {
    pub fn address(&self) -> WireAddress {
        self.signer.address()
    }
}

/// All twelve accounts, parsed once.
#[derive(Debug, Clone)]
pub(crate) struct SandboxAccounts {
    accounts: Vec<SandboxAccount>,
}

impl SandboxAccounts {
    pub fn load() -> Result<Self, EvmError> {
        let accounts = ANVIL_KEYS
            .iter()
            .map(|key_hex| {
                let signer: PrivateKeySigner = key_hex.parse().map_err(|e| EvmError::Devnet {
                    chain: "-".into(),
                    reason: format!("built-in anvil key does not parse: {e}"),
                })?;
                Ok(SandboxAccount { key_hex, signer })
            })
            .collect::<Result<Vec<_>, EvmError>>()?;
        Ok(Self { accounts })
    }

    /// Account `index` (0..=11; the constants above are the only callers).
    pub fn get(&self, index: usize) -> &SandboxAccount {
        &self.accounts[index]
    }

    pub fn addresses(&self) -> Vec<WireAddress> {
        self.accounts.iter().map(SandboxAccount::address).collect()
    }

    /// A wallet that can sign for every account; a transaction picks its signer by `from`.
    pub fn wallet(&self) -> EthereumWallet {
        let mut wallet = EthereumWallet::from(self.get(DEPLOYER).signer.clone());
        for account in &self.accounts {
            wallet.register_signer(account.signer.clone());
        }
        wallet
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deployer_key_is_the_one_sandbox_json_names() {
        let accounts = SandboxAccounts::load().unwrap();
        assert_eq!(
            accounts.get(DEPLOYER).address().to_checksum(None),
            "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"
        );
        assert_eq!(
            accounts.get(0).address().to_checksum(None),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        );
        // The relay lanes are anvil's accounts 10 and 11 of the same mnemonic.
        assert_eq!(
            accounts.get(RELAY_LANES[0]).address().to_checksum(None),
            "0xBcd4042DE499D14e55001CcbB24a551F3b954096"
        );
        assert_eq!(
            accounts.get(RELAY_LANES[1]).address().to_checksum(None),
            "0x71bE63f3384f5fb98995898A86B02Fb2426c5788"
        );
        let mut unique = accounts.addresses();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ANVIL_KEYS.len());
    }
}
