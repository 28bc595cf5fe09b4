//! Funding a wallet-sourced execution: the payer's signed report, verification on chain, the start, and returns of what cannot be used.

use super::*;
use crate::routing::policy::Verdict;
use rialto_connectors::chain::{ChainError, ObservedTransfer};
use rialto_core::intent::{PaymentDetail, PaymentResolution};

/// The text a payer signs to claim their funding transfer.
pub fn funding_message(execution: &str, tx_hash: &str) -> String {
    format!(
        "Rialto: fund {execution} with {}",
        tx_hash.trim().to_ascii_lowercase()
    )
}

/// Whether the intent is where an earlier start of this execution left it when it died after
/// the funds screening and before the plan was stored: screened (`funds_received`) or moved on
/// to `converting`, with no payment of any other kind bound to it. Such a start resumes; it is
/// not a reason to send the funds back.
async fn interrupted_start(state: &Engine, intent: &PaymentIntent) -> Result<bool, EngineError> {
    use rialto_core::intent::PaymentStatus as S;
    if !matches!(intent.status, S::FundsReceived | S::Converting) {
        return Ok(false);
    }
    Ok(state
        .store
        .payment_transactions_of(&intent.id)
        .await?
        .is_empty())
}

/// Binds the payer's reported funding transaction to a wallet-sourced execution and starts
/// it. The report must be signed by the payer (EIP-191 over [`funding_message`]) and the
/// transfer must send the quoted token from the payer to `pay_to`, with the chain's
/// confirmations; one transaction funds one execution only. While a short funding waits for
/// a top-up (`routing::policy`), a further transaction adds to it; one reported after the
/// quote expired is judged late. A repeated report of a bound transaction answers the
/// execution as it stands.
pub async fn fund(
    state: &Engine,
    mut exec: RouteExecution,
    intent: &PaymentIntent,
    tx_hash: &str,
    signature: &str,
) -> Result<RouteExecution, EngineError> {
    let Funding::Wallet {
        chain,
        asset,
        payer,
        ..
    } = exec.funding.clone()
    else {
        return Err(unexpected(
            "This execution is funded from an exchange account.",
        ));
    };
    // The chain's own form of the reference: EVM hashes are lower-cased, a Solana signature
    // (base58) is case-sensitive and kept as it is.
    let hash = canonical_tx_ref(state, &exec, &chain, tx_hash)?;
    if exec.funding.binds(&hash) {
        // A repeated report of a transaction that funded it: where it stands now.
        return Ok(exec);
    }
    // Funds sent after the execution ended unfunded (its quote expired) are judged late.
    let ended_unfunded = exec.status == ExecutionStatus::Failed
        && exec.funding_ref.is_none()
        && exec.failure_code.as_deref() == Some("quote_expired");
    // A short funding waits for top-ups (`routing::policy`): a later transfer adds to it.
    let topping_up = exec.status == ExecutionStatus::AwaitingFunds
        && exec.funding_ref.is_some()
        && matches!(
            exec.funding,
            Funding::Wallet {
                misdirected: None,
                ..
            }
        );
    let unfunded = exec.status == ExecutionStatus::AwaitingFunds && exec.funding_ref.is_none();
    if !(unfunded || topping_up || ended_unfunded) {
        return Err(unexpected(&format!(
            "This execution is {} and already funded or ended.",
            exec.status
        )));
    }
    check_signature(state, &exec, &chain, (&payer, &hash), signature).await?;
    let observed = verify_funding(state, &exec, &chain, &asset, &payer, &hash).await?;
    let decimals = onchain::token_on(state, &chain, &asset)
        .map_err(|e| EngineError::internal(&e))?
        .1;
    let arrived = onchain::from_units(observed.amount_units, decimals)
        .map_err(|e| EngineError::internal(&e))?;
    // Bound first, durably: from here the worker finishes it if this request does not.
    let now_ms = state.clock.now_ms();
    // Reported after the quote expired (a first transfer, or a top-up completing a short
    // one): a late payment.
    let late = ended_unfunded || quote_expired(&exec, now_ms)?;
    let expected = exec.version;
    exec.version += 1;
    exec.updated_at_ms = now_ms;
    exec.next_at_ms = now_ms + BOUND_GRACE_MS;
    if topping_up {
        add_top_up(
            &mut exec.funding,
            TopUp {
                tx_hash: observed.tx_hash.clone(),
                amount: arrived,
                block: Some(observed.block_number),
            },
        );
    } else {
        exec.funding_ref = Some(format!("{chain}:{}", observed.tx_hash.to_ascii_lowercase()));
        exec.funding = Funding::Wallet {
            chain: chain.clone(),
            asset: asset.clone(),
            payer: payer.clone(),
            tx_hash: Some(observed.tx_hash.clone()),
            amount: Some(arrived),
            block: Some(observed.block_number),
            top_ups: Vec::new(),
            booked: None,
            misdirected: None,
        };
    }
    if ended_unfunded {
        exec.status = ExecutionStatus::AwaitingFunds;
    }
    if state
        .store
        .save_execution_step(&exec, expected, &[], None, &[])
        .await?
        == CasOutcome::Conflict
    {
        // Either the execution moved, or the transaction is bound to another one.
        let now = state.store.get_execution(&exec.id).await?;
        if now.is_some_and(|n| n.version == expected) {
            return Err(EngineError::new(
                ErrorCode::TransactionAlreadyUsed,
                "This transaction already funds a payment.",
            )
            .param("tx_hash"));
        }
        return Err(unexpected("This execution changed meanwhile; retrieve it."));
    }
    // Held while this request starts it: the worker only takes over if the request dies (a
    // short hold, so a payment bound just before a crash still starts within its quote).
    let until = now_ms + 3 * BOUND_GRACE_MS;
    let claimed = state.store.claim_execution(&exec.id, now_ms, until).await?;
    let started = start_funded(state, exec, intent, late).await;
    if claimed {
        if let Ok(done) = &started {
            state.store.release_execution(&done.id, until).await?;
        }
    }
    started
}

/// Whether the execution's quote has expired at `now_ms`.
fn quote_expired(exec: &RouteExecution, now_ms: i64) -> Result<bool, EngineError> {
    let stored: crate::routing::StoredRoute =
        serde_json::from_str(&exec.graph).map_err(|e| EngineError::internal(&e))?;
    Ok(now_ms / 1000 >= i64::try_from(stored.quote.expires_at).unwrap_or(i64::MAX))
}

pub(super) fn unexpected(message: &str) -> EngineError {
    EngineError::new(ErrorCode::RouteExecutionUnexpectedState, message)
}

/// `tx_hash` in the funding chain's canonical form; `transaction_invalid` when it is none.
fn canonical_tx_ref(
    state: &Engine,
    exec: &RouteExecution,
    chain: &str,
    tx_hash: &str,
) -> Result<String, EngineError> {
    served(state, exec, chain)?
        .node
        .parse_tx_ref(tx_hash)
        .map_err(|_| {
            EngineError::new(
                ErrorCode::TransactionInvalid,
                "tx_hash is not a transaction hash.",
            )
            .param("tx_hash")
        })
}

/// The payer's signature of [`funding_message`]: on a chain whose signatures recover their
/// signer (EVM `personal_sign`), the recovered address must be the payer's; otherwise (ed25519
/// on Solana) the signature must verify against the payer's own key, compared exactly.
pub(super) async fn check_signature(
    state: &Engine,
    exec: &RouteExecution,
    chain: &str,
    (payer, tx_hash): (&str, &str),
    signature: &str,
) -> Result<(), EngineError> {
    let served = served(state, exec, chain)?;
    let node = &served.node;
    let refused = || {
        EngineError::new(
            ErrorCode::AuthorizationInvalidSignature,
            "signature must be the payer's signature (EVM: personal_sign; Solana: ed25519 \
             signMessage) of the funding text.",
        )
        .param("signature")
    };
    let bytes = hex::decode(signature.trim().trim_start_matches("0x")).map_err(|_| refused())?;
    let message = funding_message(&exec.id, tx_hash);
    match node.recover_signer(&message, &bytes) {
        Ok(signer) if signer.to_string().eq_ignore_ascii_case(payer) => Ok(()),
        Ok(_) => Err(refused()),
        Err(ChainError::Signature(_)) => {
            let namespace = served
                .caip2
                .parse::<rialto_core::ChainId>()
                .map(|c| c.namespace())
                .map_err(|e| EngineError::internal(&e))?;
            let payer = Address::parse(payer, namespace).map_err(|_| refused())?;
            let accepted = node
                .contract_accepts_signature(&payer, &message, &bytes)
                .await
                .map_err(|_| {
                    EngineError::new(
                        ErrorCode::ChainUnavailable,
                        "The chain could not be reached to check the signature; retry shortly.",
                    )
                })?;
            if accepted {
                Ok(())
            } else {
                Err(refused())
            }
        }
        Err(_) => Err(refused()),
    }
}

/// The execution's funding chain, if this engine serves it.
fn served<'a>(
    state: &'a Engine,
    exec: &RouteExecution,
    chain: &str,
) -> Result<&'a crate::chain::Chain, EngineError> {
    state
        .chains
        .get(exec.livemode, chain)
        .ok_or_else(|| EngineError::new(ErrorCode::ChainUnavailable, "That chain is not served."))
}

/// A funded wallet execution, bound to its transactions: the merchant's policy judges what
/// arrived (`routing::policy`), then the payer is screened and the plan starts, or (short
/// while the quote is live) it waits for a top-up, or (too little, too late, the intent no
/// longer open, the plan refused) everything that arrived goes back, to a screened address.
/// Called by `fund`, and by the worker for a funded execution whose request died before this
/// ran or whose top-up window ended.
pub async fn start_funded(
    state: &Engine,
    mut exec: RouteExecution,
    intent: &PaymentIntent,
    late: bool,
) -> Result<RouteExecution, EngineError> {
    let Funding::Wallet {
        chain,
        asset,
        payer,
        tx_hash,
        amount,
        ..
    } = exec.funding.clone()
    else {
        return Err(EngineError::internal(&"not a wallet execution"));
    };
    let arrived = amount.unwrap_or_default();
    let now_ms = state.clock.now_ms();
    let expected = exec.version;
    exec.version += 1;
    exec.updated_at_ms = now_ms;
    exec.next_at_ms = now_ms;
    let mut current = state
        .store
        .get_intent_unscoped(&intent.id)
        .await?
        .unwrap_or_else(|| intent.clone());
    let open = current.status == rialto_core::intent::PaymentStatus::AwaitingFunds;
    let (amounts, verdict, quote, graph) =
        judged(state, &mut exec, &current, arrived, late && open).await?;
    let window_end_ms = i64::try_from(quote.expires_at)
        .unwrap_or(i64::MAX / 2_000)
        .saturating_mul(1000)
        + FUNDING_GRACE_MS;
    let accepted_late = late && matches!(verdict, Verdict::Start { .. });
    let (short, funded, detail) = match verdict {
        Verdict::Start { funded, detail } => (false, funded, detail),
        Verdict::AwaitTopUp { detail } if open => {
            return top_up_awaited(state, exec, expected, &current, detail, window_end_ms).await;
        }
        Verdict::AwaitTopUp { detail } | Verdict::ReturnAll { detail } => {
            (true, None, Some(detail))
        }
    };
    let locked = rialto_router::lock(quote, u64::try_from(now_ms / 1000).unwrap_or(0));
    let mut legs = Vec::new();
    let resumable = !late && interrupted_start(state, &current).await?;
    match (locked, short) {
        (Ok(locked), false) if (open && (!late || accepted_late)) || resumable => {
            let topped_up = current
                .payment_detail
                .as_ref()
                .is_some_and(|d| d.resolution == PaymentResolution::AwaitingTopUp);
            if open && (detail.is_some() || topped_up) {
                // Stored with the screening's move to `funds_received`.
                current.payment_detail = detail;
            }
            let subject = subject(&current, &chain, vec![payer.clone()], tx_hash, None);
            let start = (locked, funded);
            legs = if open {
                screen_and_plan(state, &mut exec, &current, subject, start, &graph).await?
            } else {
                resume_plan(state, &mut exec, &current, subject, start, &graph).await?
            };
            if exec.failure_code.as_deref() == Some("compliance_blocked") {
                // The funds are in Rialto's treasury, frozen with the case.
                exec.status = ExecutionStatus::Frozen;
            } else if exec.status == ExecutionStatus::Failed {
                legs.extend(
                    screened_return(state, &mut exec, &chain, &asset, &payer, arrived).await?,
                );
            }
        }
        // Screened already (the request that did it died before the start): the review or
        // the block decides, never a return.
        _ if current.status == rialto_core::intent::PaymentStatus::InReview => {
            exec.status = ExecutionStatus::Held;
        }
        _ if current.status == rialto_core::intent::PaymentStatus::Blocked => {
            exec.status = ExecutionStatus::Frozen;
            exec.failure_code = Some("compliance_blocked".into());
            exec.failure_message = Some("This payment cannot be processed.".into());
        }
        (locked, _) => {
            let code = return_code(late, short, locked.is_err());
            exec.failure_code = Some(code.into());
            exec.failure_message =
                Some("The funds did not match an open quote; they are being sent back.".into());
            if open {
                note_returned(state, &current, (code, detail), &amounts, now_ms).await?;
            }
            if current.status == rialto_core::intent::PaymentStatus::FundsReceived {
                // Screened, then interrupted before the plan started: it ends here.
                execute::move_intent(state, &current, PaymentEvent::ConversionStarted, now_ms)
                    .await
                    .map_err(|e| EngineError::internal(&e))?;
            }
            legs.extend(screened_return(state, &mut exec, &chain, &asset, &payer, arrived).await?);
        }
    }
    if exec.status == ExecutionStatus::AwaitingFunds {
        exec.status = ExecutionStatus::Failed;
    }
    // The payer's funds are Rialto's to route (or return) from here: booked with this step.
    // A swept misdirected deposit was booked into `rialto:routing` when it was handed over
    // (`crate::chain::misdirected_convert`): `unbooked_postings` posts nothing for it.
    let postings = unbooked_postings(state, &mut exec, now_ms)?;
    match state
        .store
        .save_execution_step(&exec, expected, &legs, None, &postings)
        .await?
    {
        CasOutcome::Updated => {
            crate::telemetry::route_execution_saved(&exec);
            Ok(exec)
        }
        CasOutcome::Conflict => Err(unexpected("This execution changed meanwhile; retrieve it.")),
    }
}

/// Why a funding goes back: late, short, its quote expired before the start, or the intent is
/// no longer open.
fn return_code(late: bool, short: bool, expired: bool) -> &'static str {
    match (late, short, expired) {
        (true, _, _) => "quote_expired",
        (false, true, _) => "funding_short",
        (false, false, true) => "quote_expired",
        (false, false, false) => "intent_not_open",
    }
}

/// Stores an execution that waits for a top-up, with the funds it holds booked.
async fn top_up_awaited(
    state: &Engine,
    mut exec: RouteExecution,
    expected: i64,
    intent: &PaymentIntent,
    detail: PaymentDetail,
    window_end_ms: i64,
) -> Result<RouteExecution, EngineError> {
    let now_ms = state.clock.now_ms();
    await_top_up(state, &mut exec, intent, detail, window_end_ms, now_ms).await?;
    let postings = unbooked_postings(state, &mut exec, now_ms)?;
    match state
        .store
        .save_execution_step(&exec, expected, &[], None, &postings)
        .await?
    {
        CasOutcome::Updated => {
            crate::telemetry::route_execution_saved(&exec);
            Ok(exec)
        }
        CasOutcome::Conflict => Err(unexpected("This execution changed meanwhile; retrieve it.")),
    }
}

/// The merchant's payment policy (`routing::policy`) on what arrived, with the quote and graph
/// the plan starts from. A late funding (`late`, on an open intent) is judged against a fresh
/// quote; when it is accepted, the fresh route replaces the expired one on `exec`.
async fn judged(
    state: &Engine,
    exec: &mut RouteExecution,
    intent: &PaymentIntent,
    arrived: Decimal,
    late: bool,
) -> Result<(Amounts, Verdict, rialto_router::Quote, rialto_router::Graph), EngineError> {
    let stored: crate::routing::StoredRoute =
        serde_json::from_str(&exec.graph).map_err(|e| EngineError::internal(&e))?;
    let (quote, graph) = stored.into_parts();
    let now_ms = state.clock.now_ms();
    let amounts = crate::routing::policy::Funding {
        quoted: quote.payer_amount,
        arrived,
        locked: quote.intent_amount,
        settlement_decimals: intent.settlement.asset.decimals,
        // A swept misdirected deposit cannot be topped up: nobody is asked to pay.
        top_up_open: now_ms / 1000 < i64::try_from(quote.expires_at).unwrap_or(i64::MAX)
            && matches!(
                exec.funding,
                Funding::Wallet {
                    misdirected: None,
                    ..
                }
            ),
    };
    let settings =
        crate::settings::load(state.store.as_ref(), &intent.merchant_id, intent.livemode).await?;
    if !late {
        let verdict = crate::routing::policy::judge(&settings, amounts);
        return Ok((amounts, verdict, quote, graph));
    }
    let window_ms = i64::try_from(settings.late_payment_window_secs.saturating_mul(1000))
        .unwrap_or(i64::MAX / 2);
    let expired_ms = i64::try_from(quote.expires_at)
        .unwrap_or(i64::MAX / 2_000)
        .saturating_mul(1000);
    let in_window = now_ms <= expired_ms.saturating_add(window_ms)
        && !other_execution_live(state, exec, intent).await?;
    let fresh = if in_window {
        let Funding::Wallet { chain, asset, .. } = &exec.funding else {
            return Err(EngineError::internal(&"not a wallet execution"));
        };
        fresh_route(state, intent, chain, asset).await
    } else {
        None
    };
    let late_funding = crate::routing::policy::LateFunding {
        arrived,
        quoted: quote.payer_amount,
        in_window,
        fresh: fresh
            .as_ref()
            .map(|f| (f.quote.payer_amount, f.quote.intent_amount)),
        settlement_decimals: intent.settlement.asset.decimals,
    };
    let verdict = crate::routing::policy::judge_late(&settings, late_funding);
    match (fresh, &verdict) {
        (Some(fresh), Verdict::Start { .. }) => {
            exec.graph = serde_json::to_string(&fresh).map_err(|e| EngineError::internal(&e))?;
            let (quote, graph) = fresh.into_parts();
            Ok((amounts, verdict, quote, graph))
        }
        _ => Ok((amounts, verdict, quote, graph)),
    }
}

type Amounts = crate::routing::policy::Funding;

/// Whether another execution of the intent is live (a quote accepted since this one expired):
/// then the intent is no longer this late funding's to pay.
async fn other_execution_live(
    state: &Engine,
    exec: &RouteExecution,
    intent: &PaymentIntent,
) -> Result<bool, EngineError> {
    Ok(state
        .store
        .executions_of(&intent.id)
        .await?
        .iter()
        .any(|e| e.id != exec.id && e.status != ExecutionStatus::Failed))
}

/// Records on the open intent why its funding goes back: `underpaid` / `refunded` for a short
/// one, `late` / `refunded` after the quote expired (nothing for an intent no longer open).
async fn note_returned(
    state: &Engine,
    intent: &PaymentIntent,
    (code, short): (&str, Option<PaymentDetail>),
    amounts: &crate::routing::policy::Funding,
    now_ms: i64,
) -> Result<(), EngineError> {
    let detail = match code {
        "funding_short" => short,
        "quote_expired" => Some(crate::routing::policy::late(amounts)),
        _ => None,
    };
    if let Some(detail) = detail {
        crate::chain::policy::note(state, intent, None, detail, now_ms)
            .await
            .map_err(|e| EngineError::internal(&e))?;
    }
    Ok(())
}

/// The leg sending what arrived back to the payer, if the payer screens clear; otherwise the
/// funds stay frozen in the treasury with the case screening opened (status `frozen`).
pub(super) async fn screened_return(
    state: &Engine,
    exec: &mut RouteExecution,
    chain: &str,
    asset: &str,
    payer: &str,
    amount: Decimal,
) -> Result<Option<RouteLegRecord>, EngineError> {
    let now_ms = state.clock.now_ms();
    if !execute::return_cleared(state, exec, chain, payer, now_ms)
        .await
        .map_err(|e| EngineError::internal(&e))?
    {
        exec.status = ExecutionStatus::Frozen;
        exec.failure_code = Some("compliance_blocked".into());
        exec.failure_message = Some("This payment cannot be processed.".into());
        return Ok(None);
    }
    exec.status = ExecutionStatus::Running;
    Ok(Some(return_leg(exec, chain, asset, payer, amount, now_ms)?))
}

/// A leg sending `amount` back to the payer from the hot wallet (nothing was converted).
pub(super) fn return_leg(
    exec: &RouteExecution,
    chain: &str,
    asset: &str,
    payer: &str,
    amount: Decimal,
    now_ms: i64,
) -> Result<RouteLegRecord, EngineError> {
    execute::return_record(exec, 1, chain, asset, payer, amount, now_ms)
        .map_err(|e| EngineError::internal(&e))
}

/// The funding transfer, read from the chain: from the payer, to the hot wallet, in the
/// quoted token, with the chain's confirmations.
pub(super) async fn verify_funding(
    state: &Engine,
    exec: &RouteExecution,
    chain: &str,
    asset: &str,
    payer: &str,
    tx_hash: &str,
) -> Result<ObservedTransfer, EngineError> {
    let evm = served(state, exec, chain)?;
    let (token, _) =
        onchain::token_on(state, chain, asset).map_err(|e| EngineError::internal(&e))?;
    let hot = onchain::hot_wallet(state, exec.livemode, chain)
        .map_err(|e| EngineError::internal(&e))?
        .address;
    let invalid = |code: ErrorCode, message: &str| EngineError::new(code, message).param("tx_hash");
    let observed = evm
        .node
        .observe_transfer(tx_hash.trim(), &token, &hot)
        .await
        .map_err(|e| match e {
            ChainError::TxNotFound(_) => invalid(
                ErrorCode::TransactionNotFound,
                "No mined transaction with that hash yet; retry once it is mined.",
            ),
            ChainError::TxFailed(_) => {
                invalid(ErrorCode::TransactionFailed, "That transaction reverted.")
            }
            ChainError::NoMatchingTransfer { .. } => invalid(
                ErrorCode::TransactionMismatch,
                "That transaction sends nothing in the quoted token to the address to pay.",
            ),
            ChainError::TxRef(_) => invalid(
                ErrorCode::TransactionInvalid,
                "tx_hash is not a transaction hash.",
            ),
            _ => EngineError::new(
                ErrorCode::ChainUnavailable,
                "The chain cannot be read right now; retry.",
            ),
        })?;
    // One sender only: a second sender's funds in the same transaction would enter the route
    // unscreened (only the payer is screened when it starts) and are not the payer's to spend.
    if observed.senders.len() > 1 {
        return Err(invalid(
            ErrorCode::TransactionMismatch,
            "That transaction carries transfers from several senders; fund from payer_address \
             alone.",
        ));
    }
    // EVM addresses compare in any case; a Solana address (base58) only exactly.
    let from = observed.from.to_string();
    let same = match observed.from {
        Address::Evm(_) => from.eq_ignore_ascii_case(payer),
        Address::Solana(_) => from == payer,
    };
    if !same {
        return Err(invalid(
            ErrorCode::TransactionMismatch,
            "That transaction was not sent from payer_address.",
        ));
    }
    if observed.confirmations < evm.confirmations {
        return Err(invalid(
            ErrorCode::TransactionUnconfirmed,
            "That transaction needs more confirmations; retry shortly.",
        ));
    }
    Ok(observed)
}
