//! `/metrics` after a devnet payment: every series docs/METRICS.md lists as produced by a
//! payment's path (HTTP, the intent, screening, the chain watcher, the gateway's legs, the
//! routing worker, webhook delivery) appears.

mod common;

use std::sync::Arc;

use alloy::primitives::U256;
use common::devnet::{deposit_address, intent, pay_usdc, start, wait_for};
use rialto_gateway::store::Store;
use rialto_gateway::webhooks::{deliver_due, dispatch_events, http_client, DeliveryConfig};
use serde_json::json;

#[tokio::test]
async fn a_devnet_payment_leaves_every_listed_series_on_metrics() {
    let setup = start(1).await;
    let (app, chain) = (&setup.app, &setup.chain);
    // A receiver for the payment's webhooks, so delivery is counted too.
    let receiver = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let endpoint = app
        .post("/v1/webhook_endpoints", app.sk())
        .json(&json!({"url": format!("{}/hook", receiver.uri()), "enabled_events": ["*"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(endpoint.status(), 200, "{}", endpoint.text().await.unwrap());

    let paying = intent(app, "5.00").await;
    let to = deposit_address(app, &paying).await;
    pay_usdc(chain, 0, &to, U256::from(5_000_000u64)).await;
    wait_for(app, &paying, "succeeded").await;

    let store: Arc<dyn Store> = app.store.clone();
    dispatch_events(store.as_ref(), app.clock.as_ref())
        .await
        .unwrap();
    let config = DeliveryConfig {
        allow_private_targets: true,
        ..DeliveryConfig::default()
    };
    let client = http_client(&config, &rialto_evm::provider::default_tls()).unwrap();
    let delivered = deliver_due(
        store,
        app.sealer.clone(),
        app.clock.clone(),
        client,
        &config,
    )
    .await
    .unwrap();
    assert!(delivered > 0, "the payment's events were delivered");

    let metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let base = chain.chain_id.to_string();
    for series in [
        "rialto_http_requests_total{".to_owned(),
        "rialto_payment_intents_created_total".to_owned(),
        "rialto_compliance_screenings_total{".to_owned(),
        format!("rialto_chain_head_lag_blocks{{chain=\"{base}\"}}"),
        format!("rialto_chain_confirmations_pending{{chain=\"{base}\"}}"),
        format!("rialto_chain_legs{{chain=\"{base}\",state=\"pending\"}}"),
        format!("rialto_chain_legs{{chain=\"{base}\",state=\"submitted\"}}"),
        "rialto_route_executions_due{state=\"running\"}".to_owned(),
        "rialto_webhook_deliveries_claimed".to_owned(),
        "rialto_webhook_queue_depth".to_owned(),
        "rialto_compliance_lists_stale".to_owned(),
        "rialto_webhook_attempts_total{result=\"succeeded\"}".to_owned(),
    ] {
        assert!(
            metrics.contains(&series),
            "{series} missing from /metrics:\n{metrics}"
        );
    }
}

/// The series a devnet payment does not produce (a venue refusing, a reconciliation run with
/// exceptions, a route execution failing) render with their labels through the engine's
/// telemetry functions, which the venue error mappings, `run_and_store` and the execution
/// steps call.
#[test]
fn venue_errors_reconciliation_exceptions_and_ended_routes_render_with_their_labels() {
    use rialto_connectors::exchange::{ExchangeError, Venue};
    use rialto_engine::store::quote::{ExecutionStatus, Funding, RouteExecution};
    use rialto_engine::store::reconcile::{ExceptionRecord, ReconciliationRun};
    use rialto_engine::telemetry;

    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let run = ReconciliationRun {
        id: "rec_1".into(),
        period_start_ms: None,
        period_end_ms: None,
        block_ranges: "[]".into(),
        expected_count: 1,
        observed_count: 0,
        matched_count: 0,
        ledger_count: 0,
        exception_count: 1,
        status: "succeeded".into(),
        failure: None,
        created_by: "operator:alice".into(),
        created_at_ms: 0,
    };
    let missing = ExceptionRecord {
        run_id: "rec_1".into(),
        seq: 0,
        kind: "missing_on_chain".into(),
        merchant_id: None,
        livemode: false,
        chain_id: None,
        tx_hash: None,
        log_index: None,
        block_number: None,
        expected_amount: None,
        observed_amount: None,
        asset: None,
        purpose: None,
        reference: None,
        detail: String::new(),
        created_at_ms: 0,
    };
    let failed = RouteExecution {
        id: "rx_1".into(),
        quote_id: "qt_1".into(),
        payment_intent_id: rialto_core::id::PaymentIntentId::generate(),
        merchant_id: rialto_core::id::MerchantId::generate(),
        livemode: false,
        status: ExecutionStatus::Failed,
        funding: Funding::Exchange {
            account: "xa_1".into(),
            venue: "sandbox".into(),
        },
        funding_ref: None,
        plan: None,
        graph: String::new(),
        failure_code: Some("no_route".into()),
        failure_message: None,
        returned: None,
        version: 2,
        next_at_ms: 0,
        created_at_ms: 0,
        updated_at_ms: 0,
    };
    let running = RouteExecution {
        status: ExecutionStatus::Running,
        failure_code: None,
        ..failed.clone()
    };
    metrics::with_local_recorder(&recorder, || {
        telemetry::route_execution_saved(&running);
        telemetry::route_execution_saved(&failed);
        telemetry::venue_error(&ExchangeError::Auth {
            venue: Venue::Kraken,
            message: "bad key".into(),
        });
        telemetry::reconciliation_run(&run, &[missing]);
    });
    let text = handle.render();
    for series in [
        "rialto_venue_errors_total{venue=\"kraken\",kind=\"auth\"} 1",
        "rialto_reconciliation_runs_total{status=\"succeeded\"} 1",
        "rialto_reconciliation_exceptions_total{kind=\"missing_on_chain\"} 1",
        "rialto_reconciliation_last_run_exceptions 1",
        "rialto_route_executions_ended_total{state=\"failed\",reason=\"no_route\"} 1",
    ] {
        assert!(text.contains(series), "{series} missing:\n{text}");
    }
    // A step that leaves the execution running ends nothing.
    assert!(!text.contains("reason=\"none\""), "{text}");
}
