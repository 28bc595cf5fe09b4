//! `rialto uri parse` and `rialto uri build`: the operator's view of payment links, through the
//! same parsers and builders (`rialto_core::payment_uri`) the gateway uses.
//!
//! `parse` prints the fields as JSON on stdout (amounts as strings). Every refusal prints
//! `{"error": {"code", "message"}}` on stdout, with `code` the rule broken, and exits 1, so a
//! script can tell a malformed link from a crash (clap's own usage errors exit 2).

use std::str::FromStr;

use clap::Subcommand;
use rialto_core::payment_uri::solana_pay::parse_amount;
use rialto_core::payment_uri::{
    Eip681Request, PaymentUri, PaymentUriError, SolanaPayError, SolanaPayRequest,
    TransactionRequest, TransferRequest, Uint256,
};
use rialto_core::{Address, ChainNamespace};
use serde_json::{json, Value};

#[derive(Debug, Subcommand)]
pub enum UriCommand {
    /// Print the fields of a Solana Pay (`solana:`) or EIP-681 (`ethereum:`) URI as JSON, or
    /// the rule it breaks.
    Parse {
        /// The URI; quote it in the shell (it holds `?` and `&`).
        uri: String,
        /// For a Solana Pay token transfer: the mint's decimals, so an amount with more is
        /// refused as the spec asks.
        #[arg(long)]
        decimals: Option<u32>,
    },
    /// Build a payment URI.
    Build {
        #[command(subcommand)]
        kind: BuildCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum BuildCommand {
    /// A Solana Pay transfer request.
    SolanaPay {
        /// The native account paid (base58); for a token, the owner of its token account.
        #[arg(long)]
        recipient: String,
        /// Whole units (SOL, or the token's UI amount), e.g. 25.5.
        #[arg(long)]
        amount: Option<String>,
        /// The token's mint (base58); leave out for native SOL.
        #[arg(long)]
        spl_token: Option<String>,
        /// The mint's decimals: an amount with more is refused.
        #[arg(long)]
        decimals: Option<u32>,
        /// A reference key (base58 of 32 bytes); repeat for several, kept in order.
        #[arg(long)]
        reference: Vec<String>,
        #[arg(long)]
        label: Option<String>,
        #[arg(long)]
        message: Option<String>,
        #[arg(long)]
        memo: Option<String>,
    },
    /// A Solana Pay transaction request (the wallet fetches the transaction from `--link`).
    SolanaPayTransaction {
        /// An absolute HTTPS URL.
        #[arg(long)]
        link: String,
        #[arg(long)]
        label: Option<String>,
        #[arg(long)]
        message: Option<String>,
    },
    /// An EIP-681 request: an ERC-20 transfer with `--token`, else a native payment.
    Eip681 {
        /// The decimal chain id (8453 for Base).
        #[arg(long)]
        chain_id: Option<u64>,
        /// The ERC-20 contract; leave out for the chain's native token.
        #[arg(long)]
        token: Option<String>,
        /// The beneficiary.
        #[arg(long)]
        to: String,
        /// Base units as an integer (wei, or the token's smallest unit: 25.5 USDC is 25500000).
        #[arg(long)]
        amount_units: Option<String>,
    },
}

/// A refusal: the rule's code and a sentence.
#[derive(Debug)]
pub struct UriCliError {
    pub code: &'static str,
    pub message: String,
}

impl UriCliError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({ "error": { "code": self.code, "message": self.message } })
    }
}

impl From<PaymentUriError> for UriCliError {
    fn from(e: PaymentUriError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

impl From<SolanaPayError> for UriCliError {
    fn from(e: SolanaPayError) -> Self {
        PaymentUriError::from(e).into()
    }
}

/// Runs the command and prints its answer; a refusal exits the process with code 1.
pub fn main(command: UriCommand) -> anyhow::Result<()> {
    match run(command) {
        Ok(out) => {
            println!("{out}");
            Ok(())
        }
        Err(e) => {
            println!("{}", e.to_json());
            eprintln!("error[{}]: {}", e.code, e.message);
            std::process::exit(1)
        }
    }
}

/// What the command prints on success: JSON for `parse`, the URI for `build`.
pub fn run(command: UriCommand) -> Result<String, UriCliError> {
    match command {
        UriCommand::Parse { uri, decimals } => {
            let parsed = PaymentUri::parse(&uri)?;
            if let (Some(d), PaymentUri::SolanaPay(SolanaPayRequest::Transfer(t))) =
                (decimals, &parsed)
            {
                t.check_decimals(d)?;
            }
            Ok(serde_json::to_string_pretty(&parsed.to_json()).unwrap_or_default())
        }
        UriCommand::Build { kind } => build(kind),
    }
}

fn build(kind: BuildCommand) -> Result<String, UriCliError> {
    match kind {
        BuildCommand::SolanaPay {
            recipient,
            amount,
            spl_token,
            decimals,
            reference,
            label,
            message,
            memo,
        } => {
            let key = |text: &str, flag: &'static str| {
                Address::parse(text, ChainNamespace::Solana).map_err(|_| {
                    UriCliError::new(
                        "argument_invalid",
                        format!("{flag} must be base58 of 32 bytes, not {text:?}"),
                    )
                })
            };
            // The parser's own rules, so --amount takes exactly what a URL may carry.
            let amount = amount.as_deref().map(parse_amount).transpose()?;
            let request = TransferRequest {
                recipient: key(&recipient, "--recipient")?,
                amount,
                spl_token: spl_token.map(|m| key(&m, "--spl-token")).transpose()?,
                references: reference
                    .iter()
                    .map(|r| key(r, "--reference"))
                    .collect::<Result<_, _>>()?,
                label,
                message,
                memo,
            };
            if let Some(d) = decimals {
                request.check_decimals(d)?;
            }
            Ok(request.to_url()?)
        }
        BuildCommand::SolanaPayTransaction {
            link,
            label,
            message,
        } => Ok(TransactionRequest {
            link,
            label,
            message,
        }
        .to_url()?),
        BuildCommand::Eip681 {
            chain_id,
            token,
            to,
            amount_units,
        } => build_eip681(chain_id, token, to, amount_units),
    }
}

fn build_eip681(
    chain_id: Option<u64>,
    token: Option<String>,
    to: String,
    amount_units: Option<String>,
) -> Result<String, UriCliError> {
    let evm = |text: &str, flag: &'static str| {
        Address::parse(text, ChainNamespace::Eip155)
            .map_err(|e| UriCliError::new("argument_invalid", format!("{flag}: {e}: {text:?}")))
    };
    let units = amount_units
        .map(|u| {
            Uint256::from_str(&u).map_err(|_| {
                UriCliError::new(
                    "argument_invalid",
                    format!("--amount-units must be a whole number below 2^256, not {u:?}"),
                )
            })
        })
        .transpose()?;
    let to = evm(&to, "--to")?;
    let request = match token {
        Some(token) => {
            let chain_id = chain_id.ok_or_else(|| {
                UriCliError::new("argument_invalid", "a token transfer needs --chain-id")
            })?;
            let units = units.ok_or_else(|| {
                UriCliError::new("argument_invalid", "a token transfer needs --amount-units")
            })?;
            Eip681Request::erc20_transfer(chain_id, evm(&token, "--token")?, to, units)
        }
        None => Eip681Request::native(chain_id, to, units),
    };
    Ok(request.to_uri())
}
