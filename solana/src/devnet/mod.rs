//! The local Solana devnet: the simnet process ([`simnet`]), the two stablecoin mints a devnet
//! serves ([`SolanaDevnet`]: a USDC-like mint on classic SPL Token and a PYUSD-like one on
//! Token-2022, both 6 decimals, with the devnet's authority as mint and freeze authority),
//! funding, the [`front::PausableFront`] and the rail conformance harness
//! ([`rail_harness::SimnetRailHarness`]). Devnet and test support: these are stand-ins for real
//! USDC and PYUSD, never the real mints.

pub mod front;
pub mod manifest;
pub mod rail_harness;
pub mod simnet;

use std::time::{Duration, Instant};

use solana_client::nonblocking::rpc_client::RpcClient;
use solana_commitment_config::CommitmentConfig;
use solana_instruction::Instruction;
use solana_keypair::Keypair;
use solana_program_pack::Pack;
use solana_pubkey::Pubkey;
use solana_signature::Signature;
use solana_signer::Signer;

use crate::token::{self, MintInfo, TokenProgram};
use crate::SolanaError;

pub use simnet::{SimnetError, SimnetProcess};

/// The devnet chain's CAIP-2 id. The simnet's genesis hash changes on every start, so the
/// devnet names its chain with a fixed reference instead (as the anvil chains have fixed ids);
/// `data/assets/chains.json` lists it as `devnet-solana`.
pub const DEVNET_CAIP2: &str = "solana:rialto-devnet-simnet";

/// Decimals of both devnet mints (as the real USDC and PYUSD).
pub const DEVNET_DECIMALS: u8 = 6;

/// How long the devnet waits for one of its own transactions.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(60);

/// A started simnet with the devnet's two mints.
pub struct SolanaDevnet {
    _simnet: SimnetProcess,
    pub rpc_url: String,
    /// [`DEVNET_CAIP2`].
    pub caip2: String,
    /// Pays for the devnet's setup; mint and freeze authority of both mints.
    pub authority: Keypair,
    /// USDC-like, classic SPL Token.
    pub usdc: MintInfo,
    /// PYUSD-like, Token-2022.
    pub pyusd: MintInfo,
    rpc: RpcClient,
}

impl std::fmt::Debug for SolanaDevnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SolanaDevnet")
            .field("rpc_url", &self.rpc_url)
            .field("usdc", &self.usdc.mint)
            .field("pyusd", &self.pyusd.mint)
            .finish_non_exhaustive()
    }
}

fn failed(what: &str) -> SolanaError {
    SolanaError::Simulation(format!("devnet setup: {what}"))
}

impl SolanaDevnet {
    /// Starts the simnet (`bin`, a slot every `slot_ms`), funds the authority and creates the
    /// two mints.
    pub async fn start(bin: &std::path::Path, slot_ms: u64) -> Result<Self, SolanaError> {
        let simnet = SimnetProcess::start(bin, slot_ms, Duration::from_secs(60))
            .map_err(|e| failed(&e.to_string()))?;
        let rpc_url = simnet.rpc_url().to_owned();
        let rpc = RpcClient::new_with_commitment(rpc_url.clone(), CommitmentConfig::confirmed());
        let caip2 = DEVNET_CAIP2.to_owned();
        let authority = manifest::devnet_keypair("mint authority");
        airdrop(&rpc, &authority.pubkey(), 100_000_000_000).await?;
        let mut devnet = Self {
            _simnet: simnet,
            rpc_url,
            caip2,
            usdc: MintInfo {
                mint: Pubkey::default(),
                program: TokenProgram::Spl,
                decimals: DEVNET_DECIMALS,
            },
            pyusd: MintInfo {
                mint: Pubkey::default(),
                program: TokenProgram::Token2022,
                decimals: DEVNET_DECIMALS,
            },
            authority,
            rpc,
        };
        devnet.usdc = devnet
            .create_mint(&manifest::devnet_keypair("USDC mint"), TokenProgram::Spl)
            .await?;
        devnet.pyusd = devnet
            .create_mint(
                &manifest::devnet_keypair("PYUSD mint"),
                TokenProgram::Token2022,
            )
            .await?;
        Ok(devnet)
    }

    pub fn rpc(&self) -> &RpcClient {
        &self.rpc
    }

    async fn create_mint(
        &self,
        mint: &Keypair,
        program: TokenProgram,
    ) -> Result<MintInfo, SolanaError> {
        let space = spl_token_2022_interface::state::Mint::LEN;
        let rent = self
            .rpc
            .get_minimum_balance_for_rent_exemption(space)
            .await?;
        let authority = self.authority.pubkey();
        let instructions = vec![
            solana_system_interface::instruction::create_account(
                &authority,
                &mint.pubkey(),
                rent,
                space as u64,
                &program.id(),
            ),
            spl_token_2022_interface::instruction::initialize_mint2(
                &program.id(),
                &mint.pubkey(),
                &authority,
                Some(&authority),
                DEVNET_DECIMALS,
            )
            .map_err(|e| SolanaError::Instruction(e.to_string()))?,
        ];
        self.submit(&instructions, &[mint]).await?;
        Ok(MintInfo {
            mint: mint.pubkey(),
            program,
            decimals: DEVNET_DECIMALS,
        })
    }

    /// Gives `owner` `lamports` of SOL and mints `units` of `mint` into its token account.
    pub async fn fund(
        &self,
        owner: &Pubkey,
        lamports: u64,
        mint: &MintInfo,
        units: u64,
    ) -> Result<(), SolanaError> {
        if lamports > 0 {
            airdrop(&self.rpc, owner, lamports).await?;
        }
        let authority = self.authority.pubkey();
        let program = mint.program.id();
        let instructions = vec![
            spl_associated_token_account_interface::instruction::create_associated_token_account_idempotent(
                &authority, owner, &mint.mint, &program,
            ),
            spl_token_2022_interface::instruction::mint_to_checked(
                &program,
                &mint.mint,
                &token::ata(owner, mint),
                &authority,
                &[],
                units,
                mint.decimals,
            )
            .map_err(|e| SolanaError::Instruction(e.to_string()))?,
        ];
        self.submit(&instructions, &[]).await
    }

    /// Freezes `owner`'s token account of `mint`: every transfer out of it fails from now on.
    pub async fn freeze(&self, owner: &Pubkey, mint: &MintInfo) -> Result<(), SolanaError> {
        let instruction = spl_token_2022_interface::instruction::freeze_account(
            &mint.program.id(),
            &token::ata(owner, mint),
            &mint.mint,
            &self.authority.pubkey(),
            &[],
        )
        .map_err(|e| SolanaError::Instruction(e.to_string()))?;
        self.submit(&[instruction], &[]).await
    }

    /// Sends `instructions` paid and signed by the authority (and `extra` signers) and waits
    /// until they are confirmed.
    async fn submit(
        &self,
        instructions: &[Instruction],
        extra: &[&Keypair],
    ) -> Result<(), SolanaError> {
        let blockhash = self.rpc.get_latest_blockhash().await?;
        let mut signers: Vec<&Keypair> = vec![&self.authority];
        signers.extend_from_slice(extra);
        let message = solana_message::Message::new_with_blockhash(
            instructions,
            Some(&self.authority.pubkey()),
            &blockhash,
        );
        let signed = solana_transaction::Transaction::new(&signers, message, blockhash);
        let signature = self.rpc.send_transaction(&signed).await?;
        confirm(&self.rpc, &signature).await?;
        Ok(())
    }
}

/// Asks the simnet for `lamports` to `to` and waits until they are confirmed.
pub async fn airdrop(rpc: &RpcClient, to: &Pubkey, lamports: u64) -> Result<(), SolanaError> {
    let signature = rpc.request_airdrop(to, lamports).await?;
    confirm(rpc, &signature).await
}

/// Waits until `signature` is confirmed; fails if it failed or never confirms.
pub async fn confirm(rpc: &RpcClient, signature: &Signature) -> Result<(), SolanaError> {
    let started = Instant::now();
    loop {
        let status = rpc
            .get_signature_statuses(std::slice::from_ref(signature))
            .await?
            .value
            .into_iter()
            .next()
            .flatten();
        if let Some(status) = status {
            if let Some(err) = status.err {
                return Err(failed(&format!("{signature} failed: {err}")));
            }
            if status.satisfies_commitment(CommitmentConfig::confirmed()) {
                return Ok(());
            }
        }
        if started.elapsed() > CONFIRM_TIMEOUT {
            return Err(failed(&format!(
                "{signature} not confirmed within {CONFIRM_TIMEOUT:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Payers the devnet funds.
pub const DEVNET_PAYERS: usize = 3;
/// What each payer gets of each stand-in token: 10,000.
const PAYER_UNITS: u64 = 10_000_000_000;
/// USDC the devnet relay's relayer (the mint authority) holds to release on Solana: 1,000,000.
pub const RELAY_RESERVE_UNITS: u64 = 1_000_000_000_000;
/// SOL each payer and the hot wallet get: 100.
const DEVNET_LAMPORTS: u64 = 100_000_000_000;

impl SolanaDevnet {
    /// Funds the payers (SOL and both tokens) and the gateway's hot wallet (SOL only), and
    /// describes it all for the manifest.
    pub async fn provision(&self) -> Result<manifest::SolanaManifest, SolanaError> {
        let mut payers = Vec::new();
        for n in 1..=DEVNET_PAYERS {
            let payer = manifest::devnet_keypair(&format!("payer {n}"));
            self.fund(&payer.pubkey(), DEVNET_LAMPORTS, &self.usdc, PAYER_UNITS)
                .await?;
            self.fund(&payer.pubkey(), 0, &self.pyusd, PAYER_UNITS)
                .await?;
            payers.push(manifest::SolanaAccount::of(&payer));
        }
        // The mint authority is also the relayer of the devnet relay stand-in (Solana ↔ EVM):
        // it releases USDC to the gateway's hot wallet from this reserve.
        self.fund(&self.authority.pubkey(), 0, &self.usdc, RELAY_RESERVE_UNITS)
            .await?;
        let hot = manifest::devnet_keypair("gateway hot wallet");
        airdrop(&self.rpc, &hot.pubkey(), DEVNET_LAMPORTS).await?;
        let entry = |m: &MintInfo, program: &str| manifest::SolanaTokenEntry {
            mint: m.mint.to_string(),
            decimals: m.decimals,
            program: program.into(),
        };
        Ok(manifest::SolanaManifest {
            chain_id: self.caip2.clone(),
            alias: manifest::DEVNET_ALIAS.into(),
            rpc_url: self.rpc_url.clone(),
            tokens: [
                ("USDC".to_owned(), entry(&self.usdc, "spl-token")),
                ("PYUSD".to_owned(), entry(&self.pyusd, "token-2022")),
            ]
            .into_iter()
            .collect(),
            payers,
            gateway_hot_wallet: manifest::SolanaAccount::of(&hot),
            mint_authority: manifest::SolanaAccount::of(&self.authority),
        })
    }
}

impl SolanaDevnet {
    /// `payer` sends `units` of `mint` to `to`'s token account (created if missing, rent paid by
    /// the payer), as a wallet paying a Solana Pay request would; the confirmed signature.
    pub async fn pay(
        &self,
        payer: &Keypair,
        to: &Pubkey,
        mint: &MintInfo,
        units: u64,
    ) -> Result<String, SolanaError> {
        let from = payer.pubkey();
        let instructions = token::transfer_instructions(&from, &from, to, mint, units)?;
        let blockhash = self.rpc.get_latest_blockhash().await?;
        let signed = crate::tx::signed(payer, &instructions, blockhash);
        let signature = self.rpc.send_transaction(&signed).await?;
        confirm(&self.rpc, &signature).await?;
        Ok(signature.to_string())
    }

    /// Pays a Solana Pay transfer request as a wallet does: `reference` added to the transfer
    /// instruction as a read-only account, and `memo` (if any) as an SPL Memo instruction
    /// before it. The confirmed signature.
    pub async fn pay_request(
        &self,
        payer: &Keypair,
        to: &Pubkey,
        mint: &MintInfo,
        units: u64,
        reference: &Pubkey,
        memo: Option<&str>,
    ) -> Result<String, SolanaError> {
        let from = payer.pubkey();
        let mut instructions = token::transfer_instructions(&from, &from, to, mint, units)?;
        if let Some(transfer) = instructions.last_mut() {
            transfer
                .accounts
                .push(solana_instruction::AccountMeta::new_readonly(
                    *reference, false,
                ));
        }
        if let Some(text) = memo {
            let at = instructions.len() - 1;
            instructions.insert(at, token::memo(text, &from));
        }
        let blockhash = self.rpc.get_latest_blockhash().await?;
        let signed = crate::tx::signed(payer, &instructions, blockhash);
        let signature = self.rpc.send_transaction(&signed).await?;
        confirm(&self.rpc, &signature).await?;
        Ok(signature.to_string())
    }

    /// The slot a confirmed transaction landed in, as the chain reports it (not as any ledger
    /// records it): what reconciliation tests compare reports against.
    pub async fn slot_of(&self, signature: &str) -> Result<u64, SolanaError> {
        let parsed: Signature = signature
            .parse()
            .map_err(|_| failed(&format!("{signature} is not a signature")))?;
        self.rpc
            .get_signature_statuses_with_history(std::slice::from_ref(&parsed))
            .await?
            .value
            .into_iter()
            .next()
            .flatten()
            .map(|status| status.slot)
            .ok_or_else(|| failed(&format!("{signature} is not on chain")))
    }

    /// What `owner`'s token account holds of `mint`, at `confirmed`.
    pub async fn token_balance(&self, owner: &Pubkey, mint: &MintInfo) -> Result<u64, SolanaError> {
        token::ata_balance(&self.rpc, owner, mint, CommitmentConfig::confirmed()).await
    }
}

/// `signer`'s ed25519 signature of `message` in hex, as a wallet's `signMessage` gives it and a
/// payer's proof carries it.
pub fn sign_message_hex(signer: &Keypair, message: &str) -> String {
    let signature = signer.sign_message(message.as_bytes());
    bs58::decode(signature.to_string())
        .into_vec()
        .map(|bytes| bytes.iter().map(|b| format!("{b:02x}")).collect())
        .unwrap_or_default()
}
