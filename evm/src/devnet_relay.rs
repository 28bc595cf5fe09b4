//! The EVM end of the connectors' devnet relay stand-in (`rialto_connectors::bridge::relay`):
//! [`FiatTokenMinter`], whose relayer is the devnet FiatToken's configured minter, burning what
//! it receives and minting what it issues. Devnet only: the minter's key is in the devnet
//! manifest, and there is no such key for real USDC.

use alloy::primitives::U256;
use alloy::sol_types::SolCall;
use rialto_connectors::bridge::relay::RelaySupply;
use rialto_connectors::rail::{FeeLimits, LegAction, PlannedLeg};
use rialto_core::address::Address;

use crate::contracts::{to_wire, IFiatToken};
use crate::rail::TOKEN_GAS_HEADROOM;

/// The devnet FiatToken's minter as the relay's EVM end: `burn(amount)` of what it holds,
/// `mint(to, amount)` to issue.
#[derive(Debug, Clone)]
pub struct FiatTokenMinter {
    /// The FiatToken (devnet USDC).
    pub usdc: Address,
}

impl FiatTokenMinter {
    fn call(&self, data: Vec<u8>, units: u128) -> PlannedLeg {
        PlannedLeg {
            action: LegAction::Call {
                to: self.usdc,
                value: 0,
                data,
                moves: Some((self.usdc, units)),
            },
            fees: FeeLimits {
                max_fee_per_unit: None,
                extra_units: TOKEN_GAS_HEADROOM,
                pinned: false,
                fixed_units: None,
            },
        }
    }
}

impl RelaySupply for FiatTokenMinter {
    fn burn(&self, units: u128) -> Option<PlannedLeg> {
        let data = IFiatToken::burnCall {
            amount: U256::from(units),
        }
        .abi_encode();
        Some(self.call(data, units))
    }

    fn issue(&self, to: &Address, units: u128) -> PlannedLeg {
        // An address the FiatToken cannot take is not an EVM address: the rail refuses the
        // leg before recording it (the call would revert in simulation).
        let to = to_wire(to).unwrap_or_default();
        let data = IFiatToken::mintCall {
            to,
            amount: U256::from(units),
        }
        .abi_encode();
        self.call(data, units)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rialto_core::ChainNamespace;

    #[test]
    fn the_minter_burns_what_it_holds_and_mints_to_the_hot_wallet() {
        let usdc = Address::parse(
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            ChainNamespace::Eip155,
        )
        .unwrap();
        let minter = FiatTokenMinter { usdc };
        let burn = minter.burn(5).expect("the EVM end burns");
        let LegAction::Call {
            to, data, moves, ..
        } = burn.action
        else {
            panic!("a call");
        };
        assert_eq!((to, moves), (usdc, Some((usdc, 5))));
        assert_eq!(data[..4], IFiatToken::burnCall::SELECTOR);
        let LegAction::Call { data, .. } = minter.issue(&usdc, 7).action else {
            panic!("a call");
        };
        assert_eq!(data[..4], IFiatToken::mintCall::SELECTOR);
    }
}
