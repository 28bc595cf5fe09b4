//! Reconciliation end to end on the local devnet (real anvil chains): two payments settle (one
//! paid straight to the merchant, one through a deposit address and swept), then the books
//! and the chain are made to disagree in three ways — money sent to a deposit address after
//! its intent was paid, a sweep whose recorded amount was tampered with, and a sweep recorded
//! as confirmed that never reached the chain — and a run reports exactly those three. The
//! reports tie each payment and settlement to its on-chain transaction, and `rialto reports
//! export` writes them as CSV with the fixed header.
//!
//! anvil comes from `ANVIL_BIN` (set by tools/test.sh) or the pinned npm package.

mod common;

use std::process::Command;

use alloy::primitives::U256;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use common::devnet::{intent, payer_proof, start as setup, wait_for, MERCHANT};
use common::{assert_ledger_balanced, expect_error, TestApp};
use rialto_evm::contracts::{to_wire, IERC20};
use rialto_evm::manifest::ChainManifest;
use rialto_gateway::reconcile::reports::{EXCEPTION_COLUMNS, LEDGER_COLUMNS, PAYMENT_COLUMNS};
use rialto_gateway::store::chain::{ChainStore, LegStatus, SignedLeg, TransferDraft};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

async fn wallet(chain: &ChainManifest) -> DynProvider {
    let key: PrivateKeySigner = chain.payers[0].private_key.expose_secret().parse().unwrap();
    ProviderBuilder::new()
        .wallet(key)
        .connect(&chain.rpc_url)
        .await
        .unwrap()
        .erased()
}

/// Sends USDC and answers (tx hash, log index of the Transfer).
async fn pay(chain: &ChainManifest, to: &str, units: u64) -> (String, u64) {
    let wallet = wallet(chain).await;
    let receipt = IERC20::new(to_wire(&chain.tokens["USDC"].address).unwrap(), &wallet)
        .transfer(to.parse().unwrap(), U256::from(units))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    let log_index = receipt.inner.logs()[0].log_index.unwrap();
    (format!("{:#x}", receipt.transaction_hash), log_index)
}

async fn deposit_address(app: &TestApp, id: &str) -> String {
    let answer: Value = app
        .post(
            &format!("/v1/payment_intents/{id}/deposit_address"),
            app.sk(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["address"].as_str().unwrap().to_owned()
}

fn kinds(run: &Value) -> Vec<String> {
    let mut k: Vec<String> = run["exceptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["kind"].as_str().unwrap().to_owned())
        .collect();
    k.sort();
    k
}

fn exception<'a>(run: &'a Value, kind: &str) -> &'a Value {
    run["exceptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {run}"))
}

fn rialto() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rialto"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .arg("--config")
        .arg("/nonexistent/rialto.toml");
    cmd
}

fn run_cli(args: &[&str]) -> String {
    let out = rialto().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn a_run_reports_exactly_the_seeded_discrepancies_and_the_reports_tie_payments_to_chain() {
    let setup = setup(1).await;
    let (app, chain) = (&setup.app, &setup.chain);
    // Settled cleanly: a direct payment, and a deposit swept to the merchant.
    let direct = intent(app, "25.00").await;
    let direct_id = direct["id"].as_str().unwrap();
    let (direct_hash, direct_log) = pay(chain, MERCHANT, 25_000_000).await;
    let answer = app
        .post(
            &format!("/v1/payment_intents/{direct_id}/transactions"),
            app.sk(),
        )
        .json(&json!({"tx_hash": direct_hash,
            "signature": payer_proof(chain, 0, direct_id, &direct_hash).await}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let swept = intent(app, "10.00").await;
    let swept_id = swept["id"].as_str().unwrap();
    let deposit = deposit_address(app, swept_id).await;
    pay(chain, &deposit, 10_000_000).await;
    wait_for(app, &direct, "succeeded").await;
    wait_for(app, &swept, "succeeded").await;
    assert_ledger_balanced(app).await;

    let operator = rialto_gateway::cli_ops::create_operator(app.store.as_ref(), "ops", 0)
        .await
        .unwrap()["operator_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let create_run = || async {
        let answer = app
            .post("/v1/reconciliation_runs", &operator)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        answer.json::<Value>().await.unwrap()
    };
    let clean = create_run().await;
    assert_eq!(clean["status"], "succeeded", "{clean}");
    assert_eq!(
        kinds(&clean),
        Vec::<String>::new(),
        "no false positives: {clean}"
    );
    assert_eq!(
        clean["counts"]["matched"], 3,
        "two payments and a sweep: {clean}"
    );

    // 1. Money arrives at the paid intent's deposit address: bound to no payment.
    let (stray_hash, stray_log) = pay(chain, &deposit, 1_500_000).await;
    // 2. The sweep's recorded amount is tampered with.
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&app.database_url).await.unwrap();
    let sweep = app
        .store
        .get_chain_transfer("sweep", swept_id)
        .await
        .unwrap()
        .unwrap();
    sqlx::query("UPDATE chain_transfers SET amount_units = '9000000' WHERE leg_id = $1")
        .bind(sweep.draft.leg_id.clone())
        .execute(&db)
        .await
        .unwrap();
    // 3. A sweep recorded as confirmed whose transaction never reached the chain.
    let ghost = TransferDraft {
        leg_id: "leg_ghost".into(),
        purpose: "sweep".into(),
        reference: direct_id.into(),
        payment_intent_id: Some(direct_id.parse().unwrap()),
        chain_id: chain.chain_id.to_string(),
        from: "0x000000000000000000000000000000000000bEEF".into(),
        to: chain.tokens["USDC"].address.to_string(),
        token: Some(chain.tokens["USDC"].address.to_string()),
        amount_units: Some("25000000".into()),
        created_at_ms: app.clock.now_ms(),
    };
    let ghost_hash = format!("0x{}", "de".repeat(32));
    let sign = |_| {
        Ok(SignedLeg {
            raw_tx: "0x00".into(),
            tx_hash: ghost_hash.clone(),
        })
    };
    app.store
        .record_chain_transfer(&ghost, 0, &sign)
        .await
        .unwrap();
    app.store
        .set_chain_transfer_status(
            "leg_ghost",
            LegStatus::Confirmed,
            Some(rialto_engine::store::chain::Mined {
                block_number: 1,
                block_hash: "0x01".into(),
                fee_units: None,
                replacement: None,
            }),
            None,
            app.clock.now_ms(),
        )
        .await
        .unwrap();

    let run = create_run().await;
    assert_eq!(
        kinds(&run),
        ["amount_mismatch", "missing", "unexpected_inflow"],
        "exactly the seeded ones: {run}"
    );
    let inflow = exception(&run, "unexpected_inflow");
    assert_eq!(inflow["tx_hash"], stray_hash.as_str());
    assert_eq!(inflow["log_index"], stray_log);
    assert_eq!(inflow["observed_amount"], "1.5");
    assert_eq!(inflow["merchant_id"], app.merchant.id.as_str());
    let mismatch = exception(&run, "amount_mismatch");
    assert_eq!(mismatch["tx_hash"], sweep.tx_hash.as_str());
    assert_eq!(
        (&mismatch["expected_amount"], &mismatch["observed_amount"]),
        (&json!("9"), &json!("10"))
    );
    let missing = exception(&run, "missing");
    assert_eq!(missing["tx_hash"], ghost_hash.as_str());
    assert_eq!(missing["reference"], direct_id);

    // The merchant reads the run (its own exceptions, no global counts); operators only start them.
    let run_id = run["id"].as_str().unwrap();
    assert!(run_id.starts_with("rec_"));
    let seen: Value = app
        .get_json(&format!("/v1/reconciliation_runs/{run_id}"))
        .await;
    assert_eq!(kinds(&seen), kinds(&run));
    assert!(seen.get("counts").is_none(), "{seen}");
    let refused = app
        .post("/v1/reconciliation_runs", app.sk())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    expect_error(refused, 403, "operator_key_required").await;
    let other = app.another_merchant().await;
    let theirs: Value = app
        .get(
            &format!("/v1/reconciliation_runs/{run_id}"),
            &other.secret_key,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        theirs["exceptions"],
        json!([]),
        "another merchant sees none of ours"
    );

    // Reports: every row ties the money to its on-chain transaction.
    let payments: Value = app.get_json("/v1/reports/payments?from=2020-01-01").await;
    let rows = payments["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{payments}");
    let row = rows
        .iter()
        .find(|r| r["payment_intent_id"] == direct_id)
        .unwrap();
    assert_eq!(row["tx_hash"], direct_hash.as_str());
    assert_eq!(row["log_index"], direct_log);
    assert_eq!(row["amount"], "25.00", "as the payment was recorded");
    assert_eq!(row["recipient"], MERCHANT);
    let settlements: Value = app.get_json("/v1/reports/settlements").await;
    let rows = settlements["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{settlements}");
    let row = rows.iter().find(|r| r["reference"] == swept_id).unwrap();
    assert_eq!(
        (&row["leg_purpose"], &row["tx_hash"]),
        (&json!("sweep"), &json!(sweep.tx_hash))
    );
    assert_eq!(row["amount"], "10");
    assert_eq!(row["merchant_settled_change"], "10");
    let row = rows.iter().find(|r| r["reference"] == direct_id).unwrap();
    assert_eq!(
        row["leg_purpose"], "sweep",
        "the ghost sweep is the recorded leg: {row}"
    );
    let unknown = app
        .get("/v1/reconciliation_runs/rec_unknown", &operator)
        .send()
        .await
        .unwrap();
    expect_error(unknown, 404, "resource_missing").await;
    let exceptions: Value = app.get_json("/v1/reports/exceptions").await;
    assert_eq!(exceptions["data"].as_array().unwrap().len(), 3);
    let refunds: Value = app.get_json("/v1/reports/refunds").await;
    assert_eq!(refunds["data"], json!([]));
    let future: Value = app
        .get_json("/v1/reports/payments?created[gte]=2099-01-01")
        .await;
    assert_eq!(future["data"], json!([]), "the period filters");
    let bad = app
        .get("/v1/reports/payments?from=yesterday", app.sk())
        .send()
        .await
        .unwrap();
    expect_error(bad, 400, "parameter_invalid").await;

    // The CLI: a second run, then CSV exports with the fixed header.
    let manifest = setup.manifest_path.display().to_string();
    let summary: Value = serde_json::from_str(&run_cli(&[
        "reconcile",
        "run",
        "--database-url",
        &app.database_url,
        "--devnet-manifest",
        &manifest,
    ]))
    .unwrap();
    assert_eq!(
        summary["exceptions"],
        json!({"amount_mismatch": 1, "missing": 1, "unexpected_inflow": 1}),
        "{summary}"
    );
    let merchant = app.merchant.id.as_str();
    let csv = run_cli(&[
        "reports",
        "export",
        "--from",
        "2020-01-01",
        "--to",
        "2099-12-31T23:59:59Z",
        "--format",
        "csv",
        "--report",
        "payments",
        "--merchant",
        merchant,
        "--database-url",
        &app.database_url,
    ]);
    let lines: Vec<&str> = csv.split_terminator("\r\n").collect();
    assert_eq!(lines[0], PAYMENT_COLUMNS.join(","));
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(csv.contains(&direct_hash), "{csv}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exceptions.csv");
    run_cli(&[
        "reports",
        "export",
        "--report",
        "exceptions",
        "--database-url",
        &app.database_url,
        "--output",
        file.to_str().unwrap(),
    ]);
    let written = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        written.lines().next(),
        Some(EXCEPTION_COLUMNS.join(",").as_str())
    );
    assert_eq!(
        written.lines().count(),
        1 + 6,
        "two runs of three: {written}"
    );
    let settled = run_cli(&[
        "reports",
        "export",
        "--report",
        "settlements",
        "--format",
        "json",
        "--database-url",
        &app.database_url,
    ]);
    let settled: Value = serde_json::from_str(&settled).unwrap();
    assert_eq!(settled["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        LEDGER_COLUMNS.len() + 1,
        settled["data"][0].as_object().unwrap().len()
    );
    assert_ledger_balanced(app).await;
}
