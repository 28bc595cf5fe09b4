//! The fallback state machine: a failed leg moves to the next route, an unknown one waits for
//! reconciliation, and when nothing is left the funds go back to the payer with a reason.

mod support;

use rialto_router::{
    idempotency_key, lock, quote, Funded, FundingPlan, GiveUpReason, LegFailure, LegKind, LegOrder,
    LegOutcome, LockedQuote, Next, PlanPolicy, QuoteRequest, Source,
};
use support::{base, d, Market, NOW};

/// USDT→USDC on base: two pools (5 and 8 bps) and the kraken detour.
fn market() -> Market {
    let mut m = Market::new();
    m.dex_usdt_usdc_base("uniswap-base", 5);
    m.dex_usdt_usdc_base("aerodrome-base", 8);
    m.via_kraken();
    m
}

fn locked(m: &mut Market, amount: &str) -> LockedQuote {
    let (usdt, usdc) = (m.usdt, m.usdc);
    let source = m.node(usdt, base());
    let target = m.node(usdc, base());
    let req = QuoteRequest {
        sources: vec![Source {
            node: source,
            available: None,
        }],
        target,
        amount: d(amount),
        ttl_secs: 60,
    };
    let prices = m.prices();
    let q = quote(&m.ctx(&prices), &req, NOW).expect("quote");
    lock(q, NOW).expect("lock")
}

fn order(next: &Next) -> LegOrder {
    match next {
        Next::Execute(order) => order.clone(),
        other => panic!("expected a leg to execute, got {other:?}"),
    }
}

fn venue(m: &Market, o: &LegOrder) -> String {
    m.graph.edge(o.edge.expect("edge leg")).venue.0.clone()
}

#[test]
fn a_failed_leg_falls_back_to_the_next_best_route_from_the_same_node() {
    let mut m = market();
    let lq = locked(&mut m, "1000");
    let (mut plan, next) =
        FundingPlan::new(&lq, &m.graph, PlanPolicy::default(), NOW).expect("start");
    let first = order(&next);
    assert_eq!(venue(&m, &first), "uniswap-base");
    let prices = m.prices();
    let ctx = m.ctx(&prices);
    let next = plan.on_outcome(
        first.leg,
        LegOutcome::Failed {
            reason: LegFailure::Reverted,
        },
        &ctx,
    );
    let second = order(&next);
    assert_eq!(venue(&m, &second), "aerodrome-base");
    assert_eq!(second.from, first.from, "the money never left");
    assert_ne!(second.leg, first.leg);
    assert_ne!(second.idempotency_key, first.idempotency_key);
}

#[test]
fn an_unknown_leg_waits_for_reconciliation_and_is_never_resent() {
    let mut m = market();
    let lq = locked(&mut m, "1000");
    let (mut plan, next) =
        FundingPlan::new(&lq, &m.graph, PlanPolicy::default(), NOW).expect("start");
    let swap = order(&next);
    let prices = m.prices();
    let ctx = m.ctx(&prices);
    assert_eq!(
        plan.on_outcome(swap.leg, LegOutcome::Unknown, &ctx),
        Next::WaitForReconciliation { leg: swap.leg }
    );
    assert_eq!(plan.awaiting().map(|o| o.leg), Some(swap.leg));
    // A second report of "unknown" still waits; nothing new is sent.
    assert_eq!(
        plan.on_outcome(swap.leg, LegOutcome::Unknown, &ctx),
        Next::WaitForReconciliation { leg: swap.leg }
    );
    // Reconciliation finds it happened: on to the transfer to the merchant.
    let received = swap.min_output;
    let settle = order(&plan.on_outcome(swap.leg, LegOutcome::Confirmed { received }, &ctx));
    assert_eq!(settle.kind, LegKind::Transfer);
    assert_eq!(settle.edge, None);
    let done = plan.on_outcome(
        settle.leg,
        LegOutcome::Confirmed {
            received: settle.input,
        },
        &ctx,
    );
    match done {
        Next::Done { merchant_amount } => assert!(merchant_amount >= d("1000")),
        other => panic!("expected done, got {other:?}"),
    }
}

#[test]
fn when_every_route_fails_the_funds_are_returned_from_where_they_are_with_a_reason() {
    let mut m = market();
    let lq = locked(&mut m, "1000");
    let payer_amount = lq.quote().payer_amount;
    let (mut plan, mut next) =
        FundingPlan::new(&lq, &m.graph, PlanPolicy::default(), NOW).expect("start");
    let prices = m.prices();
    let ctx = m.ctx(&prices);
    let mut venues = Vec::new();
    let mut delays = Vec::new();
    while let Next::Execute(o) = next.clone() {
        assert!(venues.len() < 20, "the plan must give up");
        venues.push(venue(&m, &o));
        delays.push(o.delay_secs);
        next = plan.on_outcome(
            o.leg,
            LegOutcome::Failed {
                reason: LegFailure::VenueUnavailable,
            },
            &ctx,
        );
    }
    match next {
        Next::GiveUp {
            reason,
            return_funds,
        } => {
            assert_eq!(reason, GiveUpReason::VenueUnavailable);
            assert_eq!(return_funds.amount, payer_amount);
            assert_eq!(return_funds.treasury_share, d("0"));
            assert_eq!(return_funds.at.to_string(), "USDT@eip155:8453");
        }
        other => panic!("expected a give-up, got {other:?}"),
    }
    // The three venues once each, then the last way again after doubling backoffs, until the
    // five backoffs are spent.
    assert_eq!(&venues[..3], ["uniswap-base", "aerodrome-base", "kraken"]);
    assert_eq!(venues.len(), 8);
    assert_eq!(delays[7], 960);
    assert_eq!(&delays[..4], [0, 0, 0, 60]);
    assert_eq!(delays[4], 120);
    assert!(plan.is_finished());
}

#[test]
fn without_fallback_the_first_failure_gives_up() {
    let mut m = market();
    let lq = locked(&mut m, "1000");
    let (mut plan, next) =
        FundingPlan::new(&lq, &m.graph, PlanPolicy::single_route(), NOW).expect("start");
    let prices = m.prices();
    let ctx = m.ctx(&prices);
    let first = order(&next);
    match plan.on_outcome(
        first.leg,
        LegOutcome::Failed {
            reason: LegFailure::Reverted,
        },
        &ctx,
    ) {
        Next::GiveUp { reason, .. } => assert_eq!(reason, GiveUpReason::ExecutionReverted),
        other => panic!("expected a give-up, got {other:?}"),
    }
}

fn to_trade(m: &mut Market) -> (FundingPlan, LegOrder) {
    let lq = locked(m, "1000");
    let (mut plan, next) =
        FundingPlan::new(&lq, &m.graph, PlanPolicy::default(), NOW).expect("start");
    let prices = m.prices();
    let ctx = m.ctx(&prices);
    let deposit = order(&next);
    let trade = order(&plan.on_outcome(
        deposit.leg,
        LegOutcome::Confirmed {
            received: deposit.input,
        },
        &ctx,
    ));
    assert_eq!(trade.kind, LegKind::Trade);
    (plan, trade)
}

#[test]
fn small_slippage_is_topped_up_from_inventory_to_keep_the_locked_amount() {
    let mut m = Market::new();
    m.via_kraken();
    let (mut plan, trade) = to_trade(&mut m);
    let prices = m.prices();
    let ctx = m.ctx(&prices);
    // The book moved: 2 USDC less than the withdrawal needs, within the 50 bps allowance.
    let short = trade.min_output - d("2");
    let withdraw =
        order(&plan.on_outcome(trade.leg, LegOutcome::Confirmed { received: short }, &ctx));
    assert_eq!(withdraw.kind, LegKind::Withdrawal);
    assert_eq!(withdraw.topup, d("2"));
    assert_eq!(withdraw.input, trade.min_output);
}

#[test]
fn slippage_beyond_the_allowance_returns_the_funds_from_the_node_reached() {
    let mut m = Market::new();
    m.via_kraken();
    let (mut plan, trade) = to_trade(&mut m);
    let prices = m.prices();
    let ctx = m.ctx(&prices);
    let short = trade.min_output - d("10");
    match plan.on_outcome(trade.leg, LegOutcome::Confirmed { received: short }, &ctx) {
        Next::GiveUp {
            reason,
            return_funds,
        } => {
            assert_eq!(reason, GiveUpReason::Slippage);
            assert_eq!(return_funds.amount, short);
            assert_eq!(return_funds.treasury_share, d("0"));
            assert_eq!(return_funds.at.to_string(), "USDC@venue:kraken");
        }
        other => panic!("expected a give-up, got {other:?}"),
    }
}

#[test]
fn an_expired_quote_is_refused_before_anything_moves() {
    let mut m = market();
    let lq = locked(&mut m, "1000");
    let err =
        FundingPlan::new(&lq, &m.graph, PlanPolicy::default(), NOW + 60).expect_err("expired");
    assert_eq!(err, GiveUpReason::QuoteExpired);
}

#[test]
fn a_report_for_a_leg_that_is_not_in_flight_changes_nothing() {
    let mut m = market();
    let lq = locked(&mut m, "1000");
    let (mut plan, next) =
        FundingPlan::new(&lq, &m.graph, PlanPolicy::default(), NOW).expect("start");
    let first = order(&next);
    let prices = m.prices();
    let ctx = m.ctx(&prices);
    let second = order(&plan.on_outcome(
        first.leg,
        LegOutcome::Failed {
            reason: LegFailure::Reverted,
        },
        &ctx,
    ));
    // A late duplicate about the first leg repeats the current step.
    let again = plan.on_outcome(
        first.leg,
        LegOutcome::Confirmed {
            received: d("1000"),
        },
        &ctx,
    );
    assert_eq!(order(&again), second);
}

#[test]
fn every_leg_key_derives_from_its_leg_id() {
    let mut m = market();
    let lq = locked(&mut m, "1000");
    let (_plan, next) = FundingPlan::new(&lq, &m.graph, PlanPolicy::default(), NOW).expect("start");
    let o = order(&next);
    assert_eq!(o.idempotency_key, idempotency_key(&o.leg));
    assert_eq!(o.idempotency_key, o.leg.to_string());
}

#[test]
fn a_stored_plan_and_graph_carry_on_exactly_where_they_stopped() {
    let mut m = market();
    let lq = locked(&mut m, "1000");
    // The quote's route and graph survive storage: a lock made from them executes the same way.
    let route = serde_json::to_string(lq.quote().route().expect("route")).expect("route json");
    let quote_json = serde_json::to_string(lq.quote()).expect("quote json");
    let graph_json = serde_json::to_string(&m.graph).expect("graph json");
    let graph: rialto_router::Graph = serde_json::from_str(&graph_json).expect("graph back");
    assert_eq!(serde_json::to_string(&graph).expect("again"), graph_json);
    let restored = serde_json::from_str::<rialto_router::Quote>(&quote_json)
        .expect("quote back")
        .with_route(serde_json::from_str(&route).expect("route back"));
    let relocked = lock(restored, NOW).expect("lock");
    let (mut plan, next) =
        FundingPlan::new(&lq, &m.graph, PlanPolicy::default(), NOW).expect("start");
    let (_, next_again) =
        FundingPlan::new(&relocked, &graph, PlanPolicy::default(), NOW).expect("start again");
    let (first, again) = (order(&next), order(&next_again));
    assert_eq!((first.edge, first.input), (again.edge, again.input));

    // Mid-execution: the first leg failed, the fallback is in flight. Store and reload.
    let prices = m.prices();
    let ctx = m.ctx(&prices);
    let fallback = order(&plan.on_outcome(
        first.leg,
        LegOutcome::Failed {
            reason: LegFailure::Reverted,
        },
        &ctx,
    ));
    let stored = serde_json::to_string(&plan).expect("plan json");
    let mut reloaded: FundingPlan = serde_json::from_str(&stored).expect("plan back");
    assert_eq!(reloaded, plan);
    let outcome = LegOutcome::Confirmed {
        received: fallback.min_output,
    };
    let ctx2 = rialto_router::RouteContext {
        graph: &graph,
        ..ctx
    };
    // Leg ids are fresh per dispatch; everything else about the next leg is the same.
    let (a, b) = (
        order(&reloaded.on_outcome(fallback.leg, outcome, &ctx2)),
        order(&plan.on_outcome(fallback.leg, outcome, &ctx)),
    );
    assert_eq!(
        (a.edge, a.kind, a.from, a.to, a.input, a.min_output),
        (b.edge, b.kind, b.from, b.to, b.input, b.min_output)
    );
    // The reloaded plan must not resend the failed leg or forget the failure.
    assert_eq!(reloaded.history(), plan.history());
    assert!(reloaded.history().iter().any(|(o, _)| o.leg == first.leg));
}

#[test]
fn on_the_payers_own_exchange_account_slippage_is_never_topped_up() {
    let mut m = Market::new();
    m.via_kraken();
    let lq = locked(&mut m, "1000");
    let policy = PlanPolicy {
        topup_on_venues: false,
        ..PlanPolicy::default()
    };
    let (mut plan, next) = FundingPlan::new(&lq, &m.graph, policy, NOW).expect("start");
    let prices = m.prices();
    let ctx = m.ctx(&prices);
    let deposit = order(&next);
    let trade = order(&plan.on_outcome(
        deposit.leg,
        LegOutcome::Confirmed {
            received: deposit.input,
        },
        &ctx,
    ));
    // The same 2 USDC short as above: on the payer's account Rialto cannot add them.
    let short = trade.min_output - d("2");
    match plan.on_outcome(trade.leg, LegOutcome::Confirmed { received: short }, &ctx) {
        Next::GiveUp { return_funds, .. } => {
            assert_eq!(return_funds.treasury_share, d("0"));
            assert_eq!(return_funds.amount, short);
        }
        other => panic!("expected a give-up, got {other:?}"),
    }
}

#[test]
fn a_plan_started_from_other_funds_routes_them_all_and_guarantees_the_scaled_amount() {
    let mut m = market();
    let lq = locked(&mut m, "1000");
    let (quoted_plan, quoted_next) =
        FundingPlan::new(&lq, &m.graph, PlanPolicy::default(), NOW).expect("start");
    let quoted = order(&quoted_next);
    assert_eq!(quoted_plan.funded_input(), None);
    // 1 % less arrived, and the merchant accepts 990 for it.
    let input = quoted.input * d("0.99");
    let funded = Funded {
        input,
        guaranteed: d("990"),
    };
    let (mut plan, next) =
        FundingPlan::start(&lq, &m.graph, PlanPolicy::default(), NOW, Some(funded)).expect("start");
    let first = order(&next);
    assert_eq!(plan.funded_input(), Some(input));
    assert_eq!(first.input, input, "everything that arrived goes in");
    assert_eq!(
        first.min_output,
        d("990"),
        "the swap must deliver the scaled amount"
    );
    let prices = m.prices();
    let ctx = m.ctx(&prices);
    let last = order(&plan.on_outcome(
        first.leg,
        LegOutcome::Confirmed {
            received: d("990.5"),
        },
        &ctx,
    ));
    assert_eq!((last.edge, last.input), (None, d("990.5")));
    // A stored plan keeps where it started from.
    let stored = serde_json::to_string(&plan).unwrap();
    let back: FundingPlan = serde_json::from_str(&stored).unwrap();
    assert_eq!(back.funded_input(), Some(input));
}
