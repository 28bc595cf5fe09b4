//! The merchant reports (docs/reports.md): one row shape per report with fixed, stable column
//! names, shared by `GET /v1/reports/…` (JSON lists) and `rialto reports export` (CSV or JSON).
//!
//! Ledger-derived reports read postings by kind, so new kinds of money movement (refunds,
//! payouts) appear as soon as they are posted; each row is tied to the on-chain transaction
//! that moved the money: the leg recorded under the posting's reference, else the payment
//! transaction of the intent.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::time::format_utc;
use crate::ledger::{merchant_balance, merchant_settled, Account, Posting};
use crate::store::chain::ChainTransfer;
use crate::store::reconcile::{ExceptionRecord, OwnedPayment, ReportScope};
use crate::store::PaymentTxStatus;
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    Payments,
    Fees,
    Settlements,
    Refunds,
    Exceptions,
}

pub const PAYMENT_COLUMNS: &[&str] = &[
    "merchant_id",
    "livemode",
    "payment_intent_id",
    "intent_status",
    "intent_amount",
    "intent_currency",
    "created",
    "created_utc",
    "chain",
    "tx_hash",
    "log_index",
    "block_number",
    "payer",
    "recipient",
    "amount",
    "asset",
    "tx_status",
    "source",
];

pub const LEDGER_COLUMNS: &[&str] = &[
    "merchant_id",
    "livemode",
    "balance_transaction_id",
    "type",
    "reference",
    "payment_intent_id",
    "created",
    "created_utc",
    "asset",
    "amount",
    "merchant_available_change",
    "merchant_settled_change",
    "chain",
    "tx_hash",
    "log_index",
    "leg_purpose",
    "leg_status",
];

pub const EXCEPTION_COLUMNS: &[&str] = &[
    "merchant_id",
    "livemode",
    "run_id",
    "seq",
    "kind",
    "created",
    "created_utc",
    "chain",
    "tx_hash",
    "log_index",
    "block_number",
    "expected_amount",
    "observed_amount",
    "asset",
    "purpose",
    "reference",
    "detail",
];

impl ReportKind {
    pub const ALL: [ReportKind; 5] = [
        ReportKind::Payments,
        ReportKind::Fees,
        ReportKind::Settlements,
        ReportKind::Refunds,
        ReportKind::Exceptions,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Payments => "payments",
            ReportKind::Fees => "fees",
            ReportKind::Settlements => "settlements",
            ReportKind::Refunds => "refunds",
            ReportKind::Exceptions => "exceptions",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    pub fn columns(self) -> &'static [&'static str] {
        match self {
            ReportKind::Payments => PAYMENT_COLUMNS,
            ReportKind::Fees | ReportKind::Settlements | ReportKind::Refunds => LEDGER_COLUMNS,
            ReportKind::Exceptions => EXCEPTION_COLUMNS,
        }
    }

    /// The ledger kinds a ledger-derived report lists.
    pub fn ledger_kinds(self) -> &'static [&'static str] {
        match self {
            ReportKind::Fees => &["fee", "network_fee", "write_off", "issuer_fee"],
            ReportKind::Settlements => &["settlement", "payout"],
            ReportKind::Refunds => &["refund"],
            ReportKind::Payments | ReportKind::Exceptions => &[],
        }
    }

    /// The `object` of its rows in JSON.
    pub fn object(self) -> &'static str {
        match self {
            ReportKind::Payments => "payment_report_row",
            ReportKind::Fees => "fee_report_row",
            ReportKind::Settlements => "settlement_report_row",
            ReportKind::Refunds => "refund_report_row",
            ReportKind::Exceptions => "reconciliation_exception",
        }
    }
}

/// Rows in `columns` order (a row holds exactly those keys).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub kind: ReportKind,
    pub rows: Vec<Map<String, Value>>,
    pub has_more: bool,
}

type Row = Map<String, Value>;

fn text(v: impl Into<String>) -> Value {
    Value::String(v.into())
}

fn opt_text(v: Option<impl Into<String>>) -> Value {
    v.map_or(Value::Null, |v| Value::String(v.into()))
}

fn created(row: &mut Row, ms: i64) {
    row.insert("created".into(), Value::from(ms.div_euclid(1000)));
    row.insert("created_utc".into(), text(format_utc(ms)));
}

/// Builds a report; reads `scope.limit + 1` rows to learn `has_more`.
pub async fn build(
    store: &dyn Store,
    kind: ReportKind,
    scope: &ReportScope,
) -> Result<Report, StoreError> {
    let limit = scope.limit as usize;
    let read = ReportScope {
        limit: scope.limit.saturating_add(1),
        ..scope.clone()
    };
    let mut rows = match kind {
        ReportKind::Payments => store
            .payment_rows(&read)
            .await?
            .iter()
            .map(payment_row)
            .collect(),
        ReportKind::Exceptions => store
            .exception_rows(&read)
            .await?
            .iter()
            .map(exception_row)
            .collect(),
        _ => ledger_rows(store, kind, &read).await?,
    };
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    Ok(Report {
        kind,
        rows,
        has_more,
    })
}

fn payment_row(p: &OwnedPayment) -> Row {
    let t = &p.tx;
    let mut row = Row::new();
    row.insert("merchant_id".into(), text(&p.merchant_id));
    row.insert("livemode".into(), Value::Bool(p.livemode));
    row.insert(
        "payment_intent_id".into(),
        text(t.payment_intent_id.to_string()),
    );
    row.insert("intent_status".into(), text(&p.intent_status));
    row.insert("intent_amount".into(), text(&p.intent_amount));
    row.insert("intent_currency".into(), text(&p.intent_currency));
    created(&mut row, t.created_at_ms);
    row.insert("chain".into(), text(&t.chain_id));
    row.insert("tx_hash".into(), text(&t.tx_hash));
    row.insert("log_index".into(), Value::from(t.log_index));
    row.insert("block_number".into(), Value::from(t.block_number));
    row.insert("payer".into(), text(&t.payer));
    row.insert("recipient".into(), text(&p.recipient));
    row.insert("amount".into(), text(&t.amount));
    row.insert("asset".into(), text(&t.asset));
    row.insert("tx_status".into(), text(t.status.as_str()));
    row.insert("source".into(), text(t.source.as_str()));
    row
}

fn exception_row(x: &ExceptionRecord) -> Row {
    let mut row = Row::new();
    row.insert("merchant_id".into(), opt_text(x.merchant_id.clone()));
    row.insert("livemode".into(), Value::Bool(x.livemode));
    row.insert("run_id".into(), text(&x.run_id));
    row.insert("seq".into(), Value::from(x.seq));
    row.insert("kind".into(), text(&x.kind));
    created(&mut row, x.created_at_ms);
    row.insert("chain".into(), opt_text(x.chain_id.clone()));
    row.insert("tx_hash".into(), opt_text(x.tx_hash.clone()));
    row.insert(
        "log_index".into(),
        x.log_index.map_or(Value::Null, Value::from),
    );
    row.insert(
        "block_number".into(),
        x.block_number.map_or(Value::Null, Value::from),
    );
    row.insert(
        "expected_amount".into(),
        opt_text(x.expected_amount.clone()),
    );
    row.insert(
        "observed_amount".into(),
        opt_text(x.observed_amount.clone()),
    );
    row.insert("asset".into(), opt_text(x.asset.clone()));
    row.insert("purpose".into(), opt_text(x.purpose.clone()));
    row.insert("reference".into(), opt_text(x.reference.clone()));
    row.insert("detail".into(), text(&x.detail));
    row
}

/// The on-chain transaction that moved a posting's money: (chain, hash, log index, leg).
type Moved = (String, String, Option<i64>, Option<(String, String)>);

fn leg_moved(leg: &ChainTransfer) -> Moved {
    (
        leg.draft.chain_id.clone(),
        leg.tx_hash.clone(),
        None,
        Some((leg.draft.purpose.clone(), leg.status.as_str().to_owned())),
    )
}

/// The reference suffix of a CCIP route leg's `ccipSend` (`rialto_evm::ccip_bridge`).
const CCIP_SEND: &str = ":ccip_send";

async fn moved_by(
    store: &dyn Store,
    postings: &[&Posting],
) -> Result<HashMap<String, Moved>, StoreError> {
    let mut references: Vec<String> = postings.iter().map(|p| p.reference.clone()).collect();
    references.sort();
    references.dedup();
    let mut out: HashMap<String, Moved> = HashMap::new();
    // A token-moving leg beats a gas top-up under the same reference.
    let mut with_token = std::collections::HashSet::new();
    // A CCIP route leg's transactions are recorded under `<leg>:ccip_approve` and
    // `<leg>:ccip_send`: its fees are tied to the send (it carries the router's fee).
    let mut asked = references.clone();
    asked.extend(references.iter().map(|r| format!("{r}{CCIP_SEND}")));
    for leg in store.legs_for_references(&asked).await? {
        let reference = &leg
            .draft
            .reference
            .strip_suffix(CCIP_SEND)
            .unwrap_or(&leg.draft.reference)
            .to_owned();
        if with_token.contains(reference) {
            continue;
        }
        if leg.draft.token.is_some() {
            with_token.insert(reference.clone());
            out.insert(reference.clone(), leg_moved(&leg));
        } else if !out.contains_key(reference) {
            out.insert(reference.clone(), leg_moved(&leg));
        }
    }
    for reference in &references {
        if out.contains_key(reference) {
            continue;
        }
        let Ok(intent) = reference.parse() else {
            continue;
        };
        let paid = store.payment_transactions_of(&intent).await?;
        if let Some(p) = paid.iter().find(|p| p.status == PaymentTxStatus::Confirmed) {
            out.insert(
                reference.clone(),
                (
                    p.chain_id.clone(),
                    p.tx_hash.clone(),
                    Some(p.log_index),
                    None,
                ),
            );
        }
    }
    Ok(out)
}

async fn ledger_rows(
    store: &dyn Store,
    kind: ReportKind,
    scope: &ReportScope,
) -> Result<Vec<Row>, StoreError> {
    let all = match scope.merchant {
        Some((merchant, live)) => store.merchant_postings(&merchant, live).await?,
        None => store.all_postings().await?,
    };
    let kinds = kind.ledger_kinds();
    let postings: Vec<&Posting> = all
        .iter()
        .filter(|p| kinds.contains(&p.kind.as_str()))
        .filter(|p| scope.from_ms.is_none_or(|f| p.created_at_ms >= f))
        .filter(|p| scope.to_ms.is_none_or(|t| p.created_at_ms <= t))
        .take(scope.limit as usize)
        .collect();
    let moved = moved_by(store, &postings).await?;
    let mut rows = Vec::new();
    for p in postings {
        let balance = merchant_balance(&p.merchant_id);
        let settled = merchant_settled(&p.merchant_id);
        let mut assets: Vec<&str> = p.entries.iter().map(|e| e.asset.as_str()).collect();
        assets.sort_unstable();
        assets.dedup();
        for asset in assets {
            let sum = |f: &dyn Fn(&crate::ledger::Entry) -> bool| -> Decimal {
                p.entries
                    .iter()
                    .filter(|e| e.asset == asset && f(e))
                    .map(|e| e.amount)
                    .sum()
            };
            let gross = sum(&|e| e.amount.is_sign_positive());
            let mut row = Row::new();
            row.insert("merchant_id".into(), text(p.merchant_id.to_string()));
            row.insert("livemode".into(), Value::Bool(p.livemode));
            row.insert("balance_transaction_id".into(), text(&p.id));
            row.insert("type".into(), text(&p.kind));
            row.insert("reference".into(), text(&p.reference));
            let intent = p.reference.starts_with("pi_").then(|| p.reference.clone());
            row.insert("payment_intent_id".into(), opt_text(intent));
            created(&mut row, p.created_at_ms);
            row.insert("asset".into(), text(asset));
            row.insert("amount".into(), text(gross.normalize().to_string()));
            let change =
                |account: &Account| sum(&|e| &e.account == account).normalize().to_string();
            row.insert("merchant_available_change".into(), text(change(&balance)));
            row.insert("merchant_settled_change".into(), text(change(&settled)));
            let m = moved.get(&p.reference);
            row.insert("chain".into(), opt_text(m.map(|m| m.0.clone())));
            row.insert("tx_hash".into(), opt_text(m.map(|m| m.1.clone())));
            let log = m.and_then(|m| m.2).map_or(Value::Null, Value::from);
            row.insert("log_index".into(), log);
            let leg = m.and_then(|m| m.3.clone());
            row.insert(
                "leg_purpose".into(),
                opt_text(leg.as_ref().map(|l| l.0.clone())),
            );
            row.insert("leg_status".into(), opt_text(leg.map(|l| l.1)));
            rows.push(row);
        }
    }
    Ok(rows)
}

fn csv_cell(value: Option<&Value>) -> String {
    let raw = match value {
        None | Some(Value::Null) => return String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    if raw.contains([',', '"', '\n', '\r']) || raw.starts_with(' ') || raw.ends_with(' ') {
        format!("\"{}\"", raw.replace('"', "\"\""))
    } else {
        raw
    }
}

/// RFC 4180 CSV: the fixed header, then one line per row, CRLF line ends.
pub fn to_csv(report: &Report) -> String {
    let columns = report.kind.columns();
    let mut out = columns.join(",");
    out.push_str("\r\n");
    for row in &report.rows {
        let cells: Vec<String> = columns.iter().map(|c| csv_cell(row.get(*c))).collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

/// The API's list shape: `{object: list, data: [...], has_more, url}`.
pub fn to_list(report: &Report, url: &str) -> Value {
    let data: Vec<Value> = report
        .rows
        .iter()
        .map(|row| {
            let mut obj = Map::new();
            obj.insert("object".into(), text(report.kind.object()));
            for column in report.kind.columns() {
                obj.insert(
                    (*column).into(),
                    row.get(*column).cloned().unwrap_or(Value::Null),
                );
            }
            Value::Object(obj)
        })
        .collect();
    serde_json::json!({"object": "list", "data": data, "has_more": report.has_more, "url": url})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_only_when_they_must_be() {
        let mut row = Row::new();
        row.insert("kind".into(), text("missing"));
        row.insert("detail".into(), text("said \"no\", twice\nreally"));
        row.insert("seq".into(), Value::from(3));
        let report = Report {
            kind: ReportKind::Exceptions,
            rows: vec![row],
            has_more: false,
        };
        let csv = to_csv(&report);
        let mut lines = csv.split("\r\n");
        assert_eq!(lines.next(), Some(EXCEPTION_COLUMNS.join(",").as_str()));
        assert!(csv.contains(",3,missing,"), "{csv}");
        assert!(csv.contains("\"said \"\"no\"\", twice\nreally\""), "{csv}");
    }

    #[test]
    fn every_report_has_a_name_and_columns_without_duplicates() {
        for kind in ReportKind::ALL {
            assert_eq!(ReportKind::parse(kind.as_str()), Some(kind));
            let mut columns = kind.columns().to_vec();
            columns.sort_unstable();
            columns.dedup();
            assert_eq!(columns.len(), kind.columns().len(), "{}", kind.as_str());
        }
    }
}
