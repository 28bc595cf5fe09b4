//! The rail conformance suite: what every [`Rail`] must do, checked on a real chain. A rail
//! implementation runs it from its own tests with a [`RailHarness`] that starts the chain and
//! funds keys; the suite itself knows no chain family.
//!
//! What it checks (one function each, [`run_all`] runs them in order):
//! - [`send_is_idempotent_by_leg`]: the same leg asked for twice (or after a restart) is one
//!   transaction; the recipient is paid once.
//! - [`legs_are_recorded_before_broadcast`]: a process that dies right after recording a leg
//!   has sent nothing.
//! - [`a_restart_in_the_middle_resumes_the_recorded_leg`]: after that crash a new rail over the
//!   same journal sends the recorded bytes (same reference, same sequence number), once.
//! - [`confirmations_are_tracked`]: `submitted` until the chain's confirmations, then
//!   `confirmed` with its block and fee.
//! - [`balances_and_metadata_are_read`]: token metadata and balances, exact to the base unit.
//! - [`a_dropped_transaction_is_sent_again_not_replaced`]: a transaction the node forgot is
//!   broadcast again, the same bytes, and lands once.
//! - [`a_reverted_transaction_fails_its_leg`]: a leg that fails on chain is `failed`, and moved
//!   nothing.
//! - [`a_leg_the_chain_refuses_is_not_recorded`]: a transfer the chain would refuse fails
//!   before anything is recorded.
//!
//! Each function panics with a message on the first broken promise, like an assertion.

use std::time::Duration;

use async_trait::async_trait;
use rialto_core::address::Address;

use super::{
    ChainTransfer, JournalError, LegAction, LegRequest, LegStatus, MemoryJournal, Mined, Rail,
    RailError, RailJournal, Replacement, SignFn, SigningKey, TransferDraft,
};

/// The chain a rail under test runs on, and the powers a test needs over it.
#[async_trait]
pub trait RailHarness: Send + Sync {
    type Rail<'a>: Rail
    where
        Self: 'a;

    /// A rail over `journal`. Called again for a "restarted" process: a new rail instance over
    /// the same journal.
    fn rail<'a>(&'a self, journal: &'a dyn RailJournal) -> Self::Rail<'a>;

    /// A journal for one test. Defaults to a [`MemoryJournal`]; a harness may hand out the
    /// product's own store.
    fn journal(&self) -> Box<dyn RailJournal> {
        Box::new(MemoryJournal::new())
    }

    /// A fresh key holding the native coin (for fees) and [`RailHarness::token_units`] of
    /// [`RailHarness::token`]. Blocks must be flowing when this is called.
    async fn funded_key(&self) -> SigningKey;

    /// A token the funded keys hold.
    fn token(&self) -> Address;

    /// Its decimals, as its contract or mint says.
    fn token_decimals(&self) -> u8;

    /// What each funded key holds of it, in base units.
    fn token_units(&self) -> u128;

    /// A fresh address that holds nothing, never the same twice.
    fn recipient(&self) -> Address;

    /// Blocks (its own included) a leg needs to be confirmed on this rail.
    fn confirmations(&self) -> u64;

    /// Stops (`true`) or resumes producing blocks: sent transactions wait in the node's pool.
    async fn pause_blocks(&self, paused: bool);

    /// Produces `n` blocks, including whatever waits in the pool.
    async fn produce_blocks(&self, n: u64);

    /// The node forgets the pending transaction `tx_ref` (evicted from its pool).
    async fn drop_pending(&self, tx_ref: &str);

    /// From now on the token refuses transfers from `key` (a frozen holder), and the refusal
    /// is already on chain (the harness produces the block it needs itself).
    async fn doom(&self, key: &SigningKey);
}

const TIMEOUT: Duration = Duration::from_secs(60);

fn now_ms() -> i64 {
    rialto_core::clock::Clock::now_ms(&rialto_core::clock::SystemClock)
}

fn token_transfer(
    h: &impl RailHarness,
    purpose: &'static str,
    reference: &str,
    from: &SigningKey,
    to: Address,
    amount: u128,
) -> LegRequest {
    LegRequest {
        purpose,
        reference: reference.to_owned(),
        payment_intent_id: None,
        from: from.clone(),
        action: LegAction::Transfer {
            asset: Some(h.token()),
            to,
            amount,
        },
        fees: Default::default(),
    }
}

async fn token_balance<R: Rail>(rail: &R, token: &Address, owner: &Address) -> u128 {
    match rail.balance(Some(token), owner).await {
        Ok(units) => units,
        Err(e) => panic!("reading the balance of {owner}: {e}"),
    }
}

async fn sent<R: Rail>(rail: &R, request: &LegRequest) -> ChainTransfer {
    match rail.send(request, now_ms()).await {
        Ok(leg) => leg,
        Err(e) => panic!("sending {}/{}: {e}", request.purpose, request.reference),
    }
}

async fn recorded(journal: &dyn RailJournal, request: &LegRequest) -> ChainTransfer {
    match journal.find(request.purpose, &request.reference).await {
        Ok(Some(leg)) => leg,
        Ok(None) => panic!("{}/{} is not recorded", request.purpose, request.reference),
        Err(e) => panic!("reading the journal: {e}"),
    }
}

async fn drive_once<R: Rail>(rail: &R) {
    if let Err(e) = rail.drive(now_ms()).await {
        panic!("driving the rail: {e}");
    }
}

/// Produces blocks and drives the rail until the leg is finished; its final record.
async fn settle<H: RailHarness>(
    h: &H,
    rail: &H::Rail<'_>,
    journal: &dyn RailJournal,
    request: &LegRequest,
) -> ChainTransfer {
    let started = std::time::Instant::now();
    loop {
        if let Err(e) = rail.drive(now_ms()).await {
            panic!("driving the rail: {e}");
        }
        let leg = recorded(journal, request).await;
        if !leg.status.is_open() {
            return leg;
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "{}/{} still {:?}",
            request.purpose,
            request.reference,
            leg.status
        );
        h.produce_blocks(1).await;
    }
}

/// The same leg asked for twice, and again after a restart, is one transaction.
pub async fn send_is_idempotent_by_leg<H: RailHarness>(h: &H) {
    let journal = h.journal();
    let rail = h.rail(journal.as_ref());
    let key = h.funded_key().await;
    let to = h.recipient();
    let request = token_transfer(h, "conformance", "idempotent", &key, to, 1_000);
    let first = sent(&rail, &request).await;
    let second = sent(&rail, &request).await;
    assert_eq!(first.draft.leg_id, second.draft.leg_id, "one leg per name");
    assert_eq!(first.tx_hash, second.tx_hash, "one transaction per leg");
    let restarted = h.rail(journal.as_ref());
    let third = sent(&restarted, &request).await;
    assert_eq!(
        third.tx_hash, first.tx_hash,
        "a restarted rail sends nothing new"
    );
    let done = settle(h, &rail, journal.as_ref(), &request).await;
    assert_eq!(done.status, LegStatus::Confirmed);
    h.produce_blocks(2).await;
    assert_eq!(
        token_balance(&rail, &h.token(), &to).await,
        1_000,
        "the recipient is paid exactly once"
    );
}

/// A journal whose process "dies" right after its commit: the leg is recorded, the rail never
/// hears back.
struct CrashAfterRecord<'a>(&'a dyn RailJournal);

#[async_trait]
impl RailJournal for CrashAfterRecord<'_> {
    async fn record(
        &self,
        draft: &TransferDraft,
        chain_nonce: u64,
        sign: SignFn<'_>,
    ) -> Result<ChainTransfer, JournalError> {
        self.0.record(draft, chain_nonce, sign).await?;
        Err(JournalError("the process died after the commit".into()))
    }

    async fn find(
        &self,
        purpose: &str,
        reference: &str,
    ) -> Result<Option<ChainTransfer>, JournalError> {
        self.0.find(purpose, reference).await
    }

    async fn open(&self, chain_id: &str, limit: u32) -> Result<Vec<ChainTransfer>, JournalError> {
        self.0.open(chain_id, limit).await
    }

    async fn add_replacements(
        &self,
        leg_id: &str,
        replacements: &[Replacement],
    ) -> Result<(), JournalError> {
        self.0.add_replacements(leg_id, replacements).await
    }

    async fn replacements(&self, leg_id: &str) -> Result<Vec<Replacement>, JournalError> {
        self.0.replacements(leg_id).await
    }

    async fn replacement_sent(
        &self,
        leg_id: &str,
        seq: u32,
        now_ms: i64,
    ) -> Result<(), JournalError> {
        self.0.replacement_sent(leg_id, seq, now_ms).await
    }

    async fn set_status(
        &self,
        leg_id: &str,
        status: LegStatus,
        mined: Option<Mined>,
        failure: Option<&str>,
        now_ms: i64,
    ) -> Result<(), JournalError> {
        self.0
            .set_status(leg_id, status, mined, failure, now_ms)
            .await
    }
}

/// Crashes right after recording a leg: returns the journal, the request and the key.
async fn crash_after_record<H: RailHarness>(
    h: &H,
    reference: &str,
) -> (Box<dyn RailJournal>, LegRequest, Address) {
    let journal = h.journal();
    let key = h.funded_key().await;
    let to = h.recipient();
    let request = token_transfer(h, "conformance", reference, &key, to, 700);
    {
        let crashing = CrashAfterRecord(journal.as_ref());
        let rail = h.rail(&crashing);
        match rail.send(&request, now_ms()).await {
            Err(RailError::Journal(_)) => {}
            Err(other) => panic!("expected the journal's failure, got {other}"),
            Ok(_) => panic!("a send whose journal failed cannot succeed"),
        }
    }
    (journal, request, to)
}

/// A process that dies right after recording a leg has sent nothing: the leg was recorded
/// before anything was broadcast.
pub async fn legs_are_recorded_before_broadcast<H: RailHarness>(h: &H) {
    let (journal, request, to) = crash_after_record(h, "recorded_first").await;
    let leg = recorded(journal.as_ref(), &request).await;
    assert_eq!(leg.status, LegStatus::Pending, "recorded, not yet sent");
    h.produce_blocks(2).await;
    let rail = h.rail(journal.as_ref());
    assert_eq!(
        token_balance(&rail, &h.token(), &to).await,
        0,
        "nothing reached the chain before the record"
    );
}

/// After that crash, a restarted rail sends the recorded bytes (the same reference and
/// sequence number) and the recipient is paid once; the next leg of the same key takes the
/// next sequence number.
pub async fn a_restart_in_the_middle_resumes_the_recorded_leg<H: RailHarness>(h: &H) {
    let (journal, request, to) = crash_after_record(h, "restarted").await;
    let before = recorded(journal.as_ref(), &request).await;
    let rail = h.rail(journal.as_ref());
    let asked_again = sent(&rail, &request).await;
    assert_eq!(
        asked_again.tx_hash, before.tx_hash,
        "the recorded leg, not a new one"
    );
    let done = settle(h, &rail, journal.as_ref(), &request).await;
    assert_eq!(done.status, LegStatus::Confirmed);
    assert_eq!(done.tx_hash, before.tx_hash);
    assert_eq!(token_balance(&rail, &h.token(), &to).await, 700);
    let next = LegRequest {
        reference: "restarted_next".into(),
        ..request.clone()
    };
    let second = sent(&rail, &next).await;
    assert_eq!(second.nonce, before.nonce + 1, "sequence numbers follow on");
    let done = settle(h, &rail, journal.as_ref(), &next).await;
    assert_eq!(done.status, LegStatus::Confirmed);
    assert_eq!(token_balance(&rail, &h.token(), &to).await, 1_400);
}

/// A leg stays open until the chain's confirmations, then is `confirmed` with its block and
/// what it paid the network.
pub async fn confirmations_are_tracked<H: RailHarness>(h: &H) {
    let journal = h.journal();
    let rail = h.rail(journal.as_ref());
    let key = h.funded_key().await;
    let request = token_transfer(h, "conformance", "confirmations", &key, h.recipient(), 5);
    h.pause_blocks(true).await;
    let leg = sent(&rail, &request).await;
    assert!(leg.status.is_open());
    drive_once(&rail).await;
    assert!(
        recorded(journal.as_ref(), &request).await.status.is_open(),
        "not included yet"
    );
    h.produce_blocks(1).await;
    for _ in 1..h.confirmations() {
        drive_once(&rail).await;
        assert!(
            recorded(journal.as_ref(), &request).await.status.is_open(),
            "included, not deep enough"
        );
        h.produce_blocks(1).await;
    }
    drive_once(&rail).await;
    let done = recorded(journal.as_ref(), &request).await;
    h.pause_blocks(false).await;
    assert_eq!(done.status, LegStatus::Confirmed);
    assert!(done.block_number.is_some() && done.block_hash.is_some());
    assert!(
        done.fee_units.is_some_and(|f| f > 0),
        "the network fee is known"
    );
}

/// Token metadata and balances, exact to the base unit, before and after a transfer.
pub async fn balances_and_metadata_are_read<H: RailHarness>(h: &H) {
    let journal = h.journal();
    let rail = h.rail(journal.as_ref());
    let key = h.funded_key().await;
    let owner = match rail.address_of(&key) {
        Ok(address) => address,
        Err(e) => panic!("the funded key's address: {e}"),
    };
    let token = h.token();
    let metadata = match rail.token_metadata(&token).await {
        Ok(m) => m,
        Err(e) => panic!("token metadata: {e}"),
    };
    assert_eq!(metadata.decimals, h.token_decimals());
    assert!(!metadata.symbol.is_empty());
    assert_eq!(token_balance(&rail, &token, &owner).await, h.token_units());
    match rail.balance(None, &owner).await {
        Ok(native) => assert!(native > 0, "the funded key holds the native coin"),
        Err(e) => panic!("native balance: {e}"),
    }
    let request = token_transfer(h, "conformance", "balances", &key, h.recipient(), 123);
    sent(&rail, &request).await;
    settle(h, &rail, journal.as_ref(), &request).await;
    assert_eq!(
        token_balance(&rail, &token, &owner).await,
        h.token_units() - 123
    );
}

/// A transaction the node forgot is broadcast again (the same bytes) and lands once.
pub async fn a_dropped_transaction_is_sent_again_not_replaced<H: RailHarness>(h: &H) {
    let journal = h.journal();
    let rail = h.rail(journal.as_ref());
    let key = h.funded_key().await;
    let to = h.recipient();
    let request = token_transfer(h, "conformance", "dropped", &key, to, 42);
    h.pause_blocks(true).await;
    let leg = sent(&rail, &request).await;
    h.drop_pending(&leg.tx_hash).await;
    h.produce_blocks(1).await;
    assert_eq!(
        token_balance(&rail, &h.token(), &to).await,
        0,
        "it was dropped"
    );
    h.pause_blocks(false).await;
    let done = settle(h, &rail, journal.as_ref(), &request).await;
    assert_eq!(done.status, LegStatus::Confirmed);
    assert_eq!(
        done.tx_hash, leg.tx_hash,
        "the same transaction, not a replacement"
    );
    assert_eq!(token_balance(&rail, &h.token(), &to).await, 42);
}

/// A leg that fails on chain ends `failed`, and moved nothing.
pub async fn a_reverted_transaction_fails_its_leg<H: RailHarness>(h: &H) {
    let journal = h.journal();
    let rail = h.rail(journal.as_ref());
    let key = h.funded_key().await;
    let to = h.recipient();
    let request = token_transfer(h, "conformance", "reverted", &key, to, 10);
    h.pause_blocks(true).await;
    let leg = sent(&rail, &request).await;
    // The node forgets it, the token freezes the sender, and the rail sends the same bytes
    // again: they are included, and fail.
    h.drop_pending(&leg.tx_hash).await;
    h.doom(&key).await;
    h.pause_blocks(false).await;
    let done = settle(h, &rail, journal.as_ref(), &request).await;
    assert_eq!(done.status, LegStatus::Failed, "{done:?}");
    assert!(done.failure.is_some());
    assert_eq!(token_balance(&rail, &h.token(), &to).await, 0);
}

/// A transfer the chain would refuse (more than the key holds) fails before anything is
/// recorded: no sequence number is spent.
pub async fn a_leg_the_chain_refuses_is_not_recorded<H: RailHarness>(h: &H) {
    let journal = h.journal();
    let rail = h.rail(journal.as_ref());
    let key = h.funded_key().await;
    let too_much = token_transfer(
        h,
        "conformance",
        "refused",
        &key,
        h.recipient(),
        h.token_units() + 1,
    );
    match rail.send(&too_much, now_ms()).await {
        Err(RailError::Chain(_)) => {}
        Err(other) => panic!("expected the chain's refusal, got {other}"),
        Ok(leg) => panic!("a refused transfer was recorded: {leg:?}"),
    }
    let found = journal.find(too_much.purpose, &too_much.reference).await;
    assert!(matches!(found, Ok(None)), "nothing recorded");
}

/// Every check, in order.
pub async fn run_all<H: RailHarness>(h: &H) {
    send_is_idempotent_by_leg(h).await;
    legs_are_recorded_before_broadcast(h).await;
    a_restart_in_the_middle_resumes_the_recorded_leg(h).await;
    confirmations_are_tracked(h).await;
    balances_and_metadata_are_read(h).await;
    a_dropped_transaction_is_sent_again_not_replaced(h).await;
    a_reverted_transaction_fails_its_leg(h).await;
    a_leg_the_chain_refuses_is_not_recorded(h).await;
}
