//! Drives one funding plan to its end against the injected faults, checking the invariant
//! at every step: legs only spend money that is there, unknown legs are awaited, the merchant
//! is never under-paid, a give-up returns exactly what is where the money is.

use std::collections::HashMap;

use rialto_router::{
    EdgeIx, FundingPlan, GiveUpReason, LegOrder, LegOutcome, Next, NodeIx, RouteContext, VenueId,
};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use crate::faults::{Drawn, Faults, Resolved};
use crate::market::Market;
use crate::{Payment, Tally, SPACING, START};

/// One health observation: venue, edge, ok, latency ms, at ms.
pub type Sample = (VenueId, EdgeIx, bool, u64, u64);

pub enum End {
    Done,
    GaveUp(GiveUpReason),
}

pub struct Drive<'a, 'c> {
    pub m: &'a Market,
    pub faults: &'a mut Faults,
    pub ctx: &'a RouteContext<'c>,
    pub idx: u64,
    pub pay: &'a Payment,
    pub tally: &'a mut Tally,
    pub samples: &'a mut Vec<Sample>,
}

/// Where the simulated world has the money, independently of what the plan believes.
struct World {
    now: u64,
    at: NodeIx,
    held: Decimal,
    attempts: HashMap<Option<EdgeIx>, u64>,
}

impl Drive<'_, '_> {
    pub fn run(mut self, plan: &mut FundingPlan, first: Next) -> End {
        let (at, held) = plan.position();
        let mut world = World {
            now: START + self.idx * SPACING,
            at,
            held,
            attempts: HashMap::new(),
        };
        let mut next = first;
        for _ in 0..64 {
            let order = match self.order_or_end(next, &world) {
                Ok(order) => order,
                Err(end) => return end,
            };
            next = self.step(plan, &order, &mut world);
        }
        self.violation("did not finish".into());
        End::GaveUp(GiveUpReason::NoRoute)
    }

    fn violation(&mut self, what: String) {
        self.tally
            .violations
            .push(format!("payment {}: {what}", self.idx));
    }

    fn order_or_end(&mut self, next: Next, world: &World) -> Result<LegOrder, End> {
        match next {
            Next::Execute(order) => Ok(order),
            Next::Done { merchant_amount } => {
                if merchant_amount < self.pay.amount || world.at != self.pay.target {
                    self.violation(format!(
                        "merchant under-paid {merchant_amount} < {}",
                        self.pay.amount
                    ));
                }
                Err(End::Done)
            }
            Next::GiveUp {
                reason,
                return_funds,
            } => {
                if return_funds.node != world.at || return_funds.amount != world.held {
                    self.violation(format!(
                        "return {return_funds:?} but {} is at {:?}",
                        world.held, world.at
                    ));
                }
                Err(End::GaveUp(reason))
            }
            Next::WaitForReconciliation { .. } => {
                self.violation("waiting with nothing unknown".into());
                Err(End::GaveUp(GiveUpReason::NoRoute))
            }
        }
    }

    /// Sends one leg into the world, reconciles it if it comes back unknown, reports it.
    fn step(&mut self, plan: &mut FundingPlan, order: &LegOrder, world: &mut World) -> Next {
        if order.from != world.at || order.input != world.held + order.topup {
            self.violation("leg spends money that is not there".into());
        }
        world.now += u64::from(order.delay_secs);
        let n = world.attempts.entry(order.edge).or_default();
        *n += 1;
        let drawn = self
            .faults
            .leg(&self.m.graph, self.idx, order, *n, world.now);
        let secs = order
            .edge
            .map_or(10, |e| u64::from(self.m.graph.edge(e).seconds));
        world.now += secs;
        let resolved = match drawn {
            Drawn::Confirmed(x) => Resolved::Confirmed(x),
            Drawn::Failed(f) => Resolved::Failed(f),
            Drawn::Unknown(r) => {
                self.await_unknown(plan, order);
                world.now += 600;
                r
            }
        };
        let outcome = match resolved {
            Resolved::Confirmed(received) => {
                world.at = order.to;
                world.held = received;
                LegOutcome::Confirmed { received }
            }
            Resolved::Failed(reason) => LegOutcome::Failed { reason },
        };
        if let Some(e) = order.edge {
            let ok = matches!(outcome, LegOutcome::Confirmed { .. });
            let venue = self.m.graph.edge(e).venue.clone();
            self.samples
                .push((venue, e, ok, secs * 1000, world.now * 1000));
        }
        let next = plan.on_outcome(order.leg, outcome, self.ctx);
        if let Next::Execute(o) = &next {
            if o.topup > Decimal::ZERO {
                self.tally.topped_up += 1;
                let bps = o.topup / self.pay.amount * Decimal::from(10_000);
                self.tally.topup_bps_sum += bps.to_f64().unwrap_or(0.0);
            }
        }
        next
    }

    fn await_unknown(&mut self, plan: &mut FundingPlan, order: &LegOrder) {
        self.tally.unknown_waits += 1;
        match plan.on_outcome(order.leg, LegOutcome::Unknown, self.ctx) {
            Next::WaitForReconciliation { leg }
                if leg == order.leg && plan.awaiting().is_some() => {}
            other => self.violation(format!("unknown leg not awaited: {other:?}")),
        }
    }
}
