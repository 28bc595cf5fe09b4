//! The OpenAPI document, generated from the handlers' annotations. The committed copy at
//! `gateway/openapi.json` must equal [`document`] (a test enforces it); `sdk-ts` types are
//! generated from that file.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::executions;
use super::openapi_shared::{ClosedRequestBodies, SharedResponses};
use super::reports;
use super::routing;
use super::{
    balance, checkout_sessions, compliance, events, exchange_accounts, fx_locks,
    issuer_redemptions, keys, misdirected, money, operator_routes, payer_details, payment_intents,
    refund_funding, settings, solana_pay, transactions, wallet_payments, webhook_endpoints, x402,
};
use crate::error::{ErrorBody, ErrorObject, ErrorType};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Rialto API",
        description = "Stablecoin payment orchestration: payment intents settled to the merchant's stablecoin on the merchant's chain. Amounts are decimal strings in whole units.",
        version = "0.1.0"
    ),
    paths(
        payment_intents::create,
        payment_intents::retrieve,
        payment_intents::list,
        payment_intents::cancel,
        transactions::submit,
        wallet_payments::deposit_address,
        fx_locks::create,
        wallet_payments::authorization_request,
        wallet_payments::submit_authorization,
        payer_details::submit,
        payer_details::requirements,
        payer_details::retrieve,
        exchange_accounts::link,
        routing::create,
        routing::accept,
        routing::health,
        executions::retrieve,
        executions::fund,
        balance::retrieve,
        balance::list,
        settings::get_settings,
        settings::update_settings,
        settings::list_changes,
        settings::approve_change,
        settings::cancel_change,
        keys::create,
        keys::list,
        keys::roll,
        keys::revoke,
        money::create_refund,
        money::list_refunds,
        money::retrieve_refund,
        money::approve_refund,
        refund_funding::fund_refund,
        refund_funding::authorization_request,
        refund_funding::top_up,
        refund_funding::list,
        money::create_payout,
        money::list_payouts,
        money::retrieve_payout,
        money::approve_payout,
        money::create_write_off,
        events::list,
        events::retrieve,
        events::deliveries,
        events::redeliver,
        webhook_endpoints::create,
        webhook_endpoints::list,
        webhook_endpoints::retrieve,
        webhook_endpoints::update,
        webhook_endpoints::rotate_secret,
        compliance::screen,
        compliance::reload,
        compliance::list_cases,
        compliance::retrieve_case,
        compliance::approve,
        compliance::reject,
        compliance::create_list_entry,
        compliance::list_list_entries,
        compliance::delete_list_entry,
        compliance::set_policy,
        compliance::fund_test_helper,
        reports::payments,
        reports::fees,
        reports::settlements,
        reports::refunds,
        reports::exceptions,
        reports::create_run,
        reports::retrieve_run,
        misdirected::list,
        issuer_redemptions::create,
        issuer_redemptions::list,
        issuer_redemptions::retrieve,
        misdirected::resolve,
        operator_routes::list,
        operator_routes::resolve,
        checkout_sessions::create,
        checkout_sessions::retrieve,
        checkout_sessions::cancel,
        x402::verify,
        x402::settle,
        x402::supported,
        solana_pay::info,
        solana_pay::transaction
    ),
    components(schemas(ErrorBody, ErrorObject, ErrorType)),
    modifiers(&BearerAuth, &SharedResponses, &ClosedRequestBodies),
    tags(
        (name = "payment_intents", description = "Charge a payer, settle to the merchant"),
        (name = "checkout_sessions", description = "Hosted checkout: a page (no API key; its URL is the shopper's capability) that pays one payment intent and returns the shopper to the merchant"),
        (name = "routing", description = "SmartFunding quotes: ranked, exactly priced ways to pay an intent from an exchange account or a wallet, locked on accept; venue health for operators"),
        (name = "balance", description = "The merchant's position by asset, from the double-entry ledger"),
        (name = "settings", description = "Settlement schedule (immediate or batched) and payment policy; changes to the approval limit and payout addresses wait for a second key"),
        (name = "api_keys", description = "Several named keys per mode: create, list, roll with a grace period, revoke"),
        (name = "refunds", description = "Money back to the payer, out of the merchant's balance"),
        (name = "payouts", description = "Batched settlement of held balance, with maker-checker approval"),
        (name = "events", description = "What happened, and how its webhooks were delivered"),
        (name = "webhooks", description = "Endpoints that receive signed events (Standard Webhooks)"),
        (name = "compliance", description = "Screenings, review cases, block/allow lists and policies (operator keys op_…; merchants may screen addresses and keep block-lists)"),
        (name = "test_helpers", description = "Sandbox only: simulate what chains and venues report"),
        (name = "reports", description = "Per-merchant reports from the ledger and the chain records, and reconciliation runs (operator keys op_… start them)"),
        (name = "operator", description = "Operator work queues (operator keys op_…): misdirected deposits (another token, the native coin or another chain at a deposit address) to return or write off; route executions awaiting reconciliation (a leg whose outcome is unknown: resolve it delivered or failed) or whose return failed; redemptions of the treasury's deposit tokens at the issuing bank"),
        (name = "solana_pay", description = "Solana Pay transaction requests (no API key: the intent's link is the wallet's capability, and only open intents answer); the payment is found on chain by the intent's reference key"),
        (name = "x402", description = "Rialto as an x402 v2 facilitator (`exact` on EVM, EIP-3009 relay) for resource servers that are merchants: point @x402/core's HTTPFacilitatorClient at /v1/x402 with the secret key; each settled payment is a payment intent")
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("sk_test_… / pk_test_… API keys"))
                    .build(),
            ),
        );
    }
}

/// The document as pretty JSON with a trailing newline, exactly as committed.
pub fn document() -> String {
    let mut text = ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}
