//! Token programs and accounts: which program owns a mint (classic SPL Token or Token-2022),
//! its decimals, the associated token accounts (ATAs) of a wallet, and the instructions a leg
//! is made of (`transfer_checked` for both programs; the idempotent ATA creation).

use solana_client::nonblocking::rpc_client::RpcClient;
use solana_commitment_config::CommitmentConfig;
use solana_instruction::{AccountMeta, Instruction};
use solana_pubkey::Pubkey;
use spl_token_2022_interface::extension::StateWithExtensions;
use spl_token_2022_interface::state::{Account as TokenAccount, Mint};

use crate::SolanaError;

/// The classic SPL Token program.
pub const TOKEN_PROGRAM: Pubkey = spl_token_2022_interface::inline_spl_token::ID;
/// The Token-2022 program (extensions; the real PYUSD lives here).
pub const TOKEN_2022_PROGRAM: Pubkey = spl_token_2022_interface::ID;
/// The SPL Memo program (v2+): a leg carries its leg id in a memo, so two legs with the same
/// transfer in the same slot are still two transactions, never one signature.
pub const MEMO_PROGRAM: Pubkey =
    Pubkey::from_str_const("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr");

/// Which token program a mint belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProgram {
    Spl,
    Token2022,
}

impl TokenProgram {
    pub fn id(self) -> Pubkey {
        match self {
            TokenProgram::Spl => TOKEN_PROGRAM,
            TokenProgram::Token2022 => TOKEN_2022_PROGRAM,
        }
    }

    pub fn of_owner(owner: &Pubkey) -> Option<Self> {
        if *owner == TOKEN_PROGRAM {
            Some(TokenProgram::Spl)
        } else if *owner == TOKEN_2022_PROGRAM {
            Some(TokenProgram::Token2022)
        } else {
            None
        }
    }
}

/// A mint as the chain reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MintInfo {
    pub mint: Pubkey,
    pub program: TokenProgram,
    pub decimals: u8,
}

/// Reads `mint`: its owning program and decimals ([`SolanaError::NotAMint`] for anything else).
pub async fn read_mint(
    rpc: &RpcClient,
    mint: &Pubkey,
    commitment: CommitmentConfig,
) -> Result<MintInfo, SolanaError> {
    let account = rpc
        .get_account_with_commitment(mint, commitment)
        .await?
        .value
        .ok_or_else(|| SolanaError::NotAMint(mint.to_string()))?;
    let program = TokenProgram::of_owner(&account.owner)
        .ok_or_else(|| SolanaError::NotAMint(mint.to_string()))?;
    let state = StateWithExtensions::<Mint>::unpack(&account.data)
        .map_err(|_| SolanaError::NotAMint(mint.to_string()))?;
    Ok(MintInfo {
        mint: *mint,
        program,
        decimals: state.base.decimals,
    })
}

/// The associated token account of `owner` for `mint`.
pub fn ata(owner: &Pubkey, mint: &MintInfo) -> Pubkey {
    spl_associated_token_account_interface::address::get_associated_token_address_with_program_id(
        owner,
        &mint.mint,
        &mint.program.id(),
    )
}

/// What `owner`'s associated token account holds of `mint`, in base units (0 when it does not
/// exist yet).
pub async fn ata_balance(
    rpc: &RpcClient,
    owner: &Pubkey,
    mint: &MintInfo,
    commitment: CommitmentConfig,
) -> Result<u64, SolanaError> {
    let Some(account) = rpc
        .get_account_with_commitment(&ata(owner, mint), commitment)
        .await?
        .value
    else {
        return Ok(0);
    };
    let state = StateWithExtensions::<TokenAccount>::unpack(&account.data)
        .map_err(|e| SolanaError::Decode(format!("token account: {e}")))?;
    Ok(state.base.amount)
}

/// The instructions of a token transfer from `from`'s ATA to `to`'s: the recipient's ATA
/// created if missing (idempotent, so a race with someone else creating it cannot fail the
/// leg; the rent is paid by `payer`), then `transfer_checked` (the program checks the mint and
/// its decimals, so a wrong mint cannot be mistaken for the right one).
pub fn transfer_instructions(
    payer: &Pubkey,
    from: &Pubkey,
    to: &Pubkey,
    mint: &MintInfo,
    units: u64,
) -> Result<Vec<Instruction>, SolanaError> {
    let program = mint.program.id();
    let create = spl_associated_token_account_interface::instruction::create_associated_token_account_idempotent(
        payer, to, &mint.mint, &program,
    );
    let transfer = spl_token_2022_interface::instruction::transfer_checked(
        &program,
        &ata(from, mint),
        &mint.mint,
        &ata(to, mint),
        from,
        &[],
        units,
        mint.decimals,
    )
    .map_err(|e| SolanaError::Instruction(e.to_string()))?;
    Ok(vec![create, transfer])
}

/// A memo signed by `signer`.
pub fn memo(text: &str, signer: &Pubkey) -> Instruction {
    Instruction {
        program_id: MEMO_PROGRAM,
        accounts: vec![AccountMeta::new_readonly(*signer, true)],
        data: text.as_bytes().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_token_programs_are_told_apart_by_owner() {
        assert_eq!(
            TokenProgram::of_owner(&TOKEN_PROGRAM),
            Some(TokenProgram::Spl)
        );
        assert_eq!(
            TokenProgram::of_owner(&TOKEN_2022_PROGRAM),
            Some(TokenProgram::Token2022)
        );
        assert_eq!(TokenProgram::of_owner(&MEMO_PROGRAM), None);
    }

    #[test]
    fn a_wallets_token_account_differs_per_program() {
        let owner = Pubkey::new_from_array([3; 32]);
        let mint = Pubkey::new_from_array([4; 32]);
        let spl = MintInfo {
            mint,
            program: TokenProgram::Spl,
            decimals: 6,
        };
        let t22 = MintInfo {
            program: TokenProgram::Token2022,
            ..spl
        };
        assert_ne!(ata(&owner, &spl), ata(&owner, &t22));
    }
}
