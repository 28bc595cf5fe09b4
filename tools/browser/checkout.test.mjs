// The hosted checkout page in a real Chromium (Debian's, driven by playwright-core) against a
// real gateway on the devnet: a shopper pays through the page with an injected test wallet and
// the merchant's USDC balance on chain rises by exactly the amount, also through a SmartFunding
// quote paid from another chain and from a sandbox exchange account; a Solana Pay QR; expired, canceled and
// German pages; the payer's details the travel rule needs; axe-core accessibility; a phone viewport; and not one request leaves
// 127.0.0.1. Screenshots go to $CHECKOUT_ARTIFACTS (default target/browser-artifacts).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { parseUnits } from "viem";
import { startGateway, merchantApi, devnetBase, usdcBalance, tokenBalance, launch, MERCHANT } from "./harness.mjs";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const ARTIFACTS = process.env.CHECKOUT_ARTIFACTS ?? new URL("../../target/browser-artifacts", import.meta.url).pathname;
mkdirSync(ARTIFACTS, { recursive: true });

let gw, net, eth, browser;
const requested = [];

before(async () => {
  gw = await startGateway();
  net = devnetBase(gw);
  eth = devnetBase(gw, "devnet-ethereum");
  browser = await launch(net, [eth]);
  browser.context.on("request", (r) => requested.push(r.url()));
});

after(async () => {
  await browser?.close();
  gw?.stop();
});

function session(extra = {}) {
  return merchantApi(gw, "POST", "/v1/checkout_sessions", {
    amount: "25.00", currency: "usd",
    success_url: `${gw.base}/health?paid=1`, cancel_url: `${gw.base}/health?back=1`,
    line_items: [{ name: "Espresso beans, 1 kg", quantity: 2, unit_amount: "12.50" }],
    ...extra,
  });
}

async function open(url, viewport = { width: 1280, height: 900 }) {
  const page = await browser.context.newPage();
  await page.setViewportSize(viewport);
  await page.goto(url);
  await page.waitForSelector("body[data-ready='1']");
  return page;
}

const shot = (page, name) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

async function axeViolations(page) {
  await page.evaluate(AXE); // through the debugger protocol: the page's CSP stays as served
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}

test("a shopper pays through the page and the merchant receives exactly the amount on chain", async () => {
  const s = await session();
  const before_ = await usdcBalance(net, MERCHANT);
  const page = await open(s.url);
  assert.equal(await page.getAttribute("body", "data-state"), "open");
  assert.match(await page.textContent("#amount"), /25\.00 USD/);
  assert.match(await page.textContent("#merchant"), /Kaffeerösterei Rialto/);
  assert.deepEqual(await axeViolations(page), []);
  await shot(page, "open");
  await page.click("#wallet-pay");
  await page.waitForSelector("body[data-state='success']", { timeout: 120_000 });
  await shot(page, "success");
  assert.ok(browser.calls.includes("wallet_switchEthereumChain"));
  assert.ok(browser.calls.includes("eth_signTypedData_v4"), "USDC takes EIP-3009: signed, not sent");
  const intent = await merchantApi(gw, "GET", `/v1/payment_intents/${s.payment_intent}`);
  assert.equal(intent.status, "succeeded");
  const after_ = await usdcBalance(net, MERCHANT);
  assert.equal(after_ - before_, 25_000_000n);
  assert.equal((await merchantApi(gw, "GET", `/v1/checkout_sessions/${s.id}`)).status, "complete");
  await page.waitForURL(/\/health\?paid=1$/);
  await page.close();
});

test("an expired session shows the expired screen and offers the way back", async () => {
  const s = await session({ expires_in: 5 });
  const page = await open(s.url);
  await page.waitForSelector("body[data-state='expired']", { timeout: 60_000 });
  assert.equal(await page.getAttribute("#final-link", "href"), `${gw.base}/health?back=1`);
  assert.deepEqual(await axeViolations(page), []);
  await shot(page, "expired");
  await page.close();
});

test("a canceled session shows the canceled screen and takes no payment", async () => {
  const s = await session();
  await merchantApi(gw, "POST", `/v1/checkout_sessions/${s.id}/cancel`);
  const page = await open(s.url);
  assert.equal(await page.getAttribute("body", "data-state"), "canceled");
  assert.ok(await page.isHidden("#wallet-pay"));
  await shot(page, "canceled");
  await page.close();
});

test("a German session renders in German, accessibly, on a phone", async () => {
  const s = await session({ locale: "de" });
  const page = await open(s.url, { width: 390, height: 844 });
  assert.equal(await page.getAttribute("html", "lang"), "de");
  assert.equal((await page.textContent("h1")).trim(), "Bezahlen");
  assert.match(await page.textContent("#amount"), /25,00 USD/);
  assert.match(await page.textContent("#countdown"), /Läuft ab in \d+:\d\d/);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling on a phone (${overflow}px)`);
  await page.click("#deposit-show");
  await page.waitForSelector("#deposit:not([hidden])");
  assert.match(await page.getAttribute("#dep-uri", "href"), /^ethereum:0x[0-9a-fA-F]{40}@\d+\/transfer\?address=0x[0-9a-fA-F]{40}&uint256=25000000$/);
  await page.waitForFunction(() => document.getElementById("qr").naturalWidth > 0);
  assert.deepEqual(await axeViolations(page), []);
  await shot(page, "german-phone");
  await page.close();
});

test("a payment the travel rule covers asks who is paying first, then offers the ways to pay", async () => {
  // USD 3,000 is the default threshold of the US Funds Transfer/Travel Rule.
  const s = await session({ amount: "3000.00", line_items: [{ name: "Espresso machine", quantity: 1, unit_amount: "3000.00" }] });
  const page = await open(s.url);
  assert.equal(await page.getAttribute("body", "data-state"), "payer");
  assert.ok(await page.isHidden("#wallet-pay"), "no way to pay before the payer's details");
  assert.deepEqual(await axeViolations(page), []);
  // A company whose LEI fails its check digits: the page shows the rule it breaks.
  await page.check("input[name='kind'][value='company']");
  await page.fill("#p-legal", "Acme Trading SAS");
  await page.fill("#p-lei", "5493001KJTIIGC8Y1R13");
  await page.fill("#p-country", "FR");
  await page.click("#payer-submit");
  await page.waitForSelector("#payer-status.error");
  assert.match(await page.textContent("#payer-status"), /C11/);
  await page.check("input[name='kind'][value='person']");
  await page.fill("#p-given", "Jane");
  await page.fill("#p-family", "Smith");
  await page.fill("#p-dob", "1980-04-01");
  await page.fill("#p-pob", "Lyon");
  await shot(page, "payer-details");
  await page.click("#payer-submit");
  await page.waitForSelector("body[data-state='open']");
  assert.ok(await page.isVisible("#wallet-pay"));
  const given = await merchantApi(gw, "GET", `/v1/payment_intents/${s.payment_intent}/payer_details`);
  assert.deepEqual([given.travel_rule_required, given.payer_name, given.travel_rule], [true, true, true]);
  await page.close();
});

test("a shopper pays through a SmartFunding quote from another chain and the merchant receives exactly the amount", async () => {
  const s = await session();
  const merchantBefore = await usdcBalance(net, MERCHANT);
  const payerBefore = await tokenBalance(eth, eth.usdc, eth.account.address);
  const page = await open(s.url);
  const served = page.waitForResponse((r) => r.url().endsWith("/funding_quotes"));
  await page.click("#quotes-show");
  const offers = (await (await served).json()).data;
  await page.waitForSelector("#quotes li");
  // The page lists what the server offers, nothing of its own.
  assert.deepEqual(await page.$$eval("#quotes li", (lis) => lis.map((li) => li.dataset.quote)), offers.map((q) => q.id));
  assert.ok(offers.every((q) => !(q.source.asset === "USDC" && q.source_chain === "devnet-base")), "the direct asset is paid directly, not quoted");
  const quote = offers.find((q) => q.source.asset === "USDC" && q.source_chain === "devnet-ethereum");
  assert.ok(quote, `a quote for USDC on devnet-ethereum among ${JSON.stringify(offers.map((q) => [q.source, q.source_chain]))}`);
  const row = page.locator(`#quotes li[data-quote='${quote.id}']`);
  const text = await row.textContent();
  assert.ok(text.includes(`You send ${quote.payer_amount} USDC on devnet-ethereum · fee `), text);
  assert.deepEqual(await axeViolations(page), []);
  await shot(page, "quotes");
  await row.locator("button").click();
  await page.waitForSelector("body[data-state='success']", { timeout: 180_000 });
  await shot(page, "quote-success");
  const intent = await merchantApi(gw, "GET", `/v1/payment_intents/${s.payment_intent}`);
  assert.equal(intent.status, "succeeded");
  assert.equal(parseUnits(quote.intent_amount, 6), 25_000_000n);
  const paid = (await usdcBalance(net, MERCHANT)) - merchantBefore;
  assert.equal(paid, parseUnits(quote.merchant_amount, 6), "the merchant gets the locked amount");
  assert.ok(paid >= 25_000_000n, "never less than the intent amount");
  assert.equal(payerBefore - (await tokenBalance(eth, eth.usdc, eth.account.address)), parseUnits(quote.payer_amount, 6), "the payer sent exactly the quoted amount");
  assert.ok(browser.calls.includes("personal_sign"), "the funding was reported with the payer's proof");
  await page.close();
});

test("a shopper pays from a sandbox exchange account and the merchant receives exactly the amount", async () => {
  const s = await session();
  const before_ = await usdcBalance(net, MERCHANT);
  const page = await open(s.url);
  assert.ok(await page.isVisible("#m-exchange"));
  assert.deepEqual(await page.$$eval("#x-venue option", (os) => os.map((o) => o.textContent)), ["Binance (sandbox)", "Kraken (sandbox)", "Coinbase (sandbox)"]);
  await page.selectOption("#x-venue", "binance");
  await page.fill("#x-key", "payer-key");
  // The sandbox payer's test secret (the same fixture as gateway/tests/exchange_funding.rs).
  await page.fill("#x-secret", "c2VjcmV0LW9mLXRoZS1wYXllcg==");
  assert.deepEqual(await axeViolations(page), []);
  await shot(page, "exchange");
  await page.click("#exchange-pay");
  await page.waitForSelector("body[data-state='success']", { timeout: 180_000 });
  await shot(page, "exchange-success");
  const intent = await merchantApi(gw, "GET", `/v1/payment_intents/${s.payment_intent}`);
  assert.equal(intent.status, "succeeded");
  assert.equal((await usdcBalance(net, MERCHANT)) - before_, 25_000_000n);
  await page.close();
});

test("a Solana session shows the server's Solana Pay URL and its QR code", async () => {
  const s = await session({ settlement: { asset: "usdc", chain: "devnet-solana", address: "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM" } });
  const view = await (await fetch(`${s.url}/session`)).json();
  assert.match(view.solana_pay_url, /^solana:9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM\?amount=25&spl-token=EJmoxGPnKiawaonenHtcpGqEEUHq9Bpsqpq5etrQw4bi/);
  const page = await open(s.url, { width: 390, height: 844 });
  assert.equal(await page.textContent("#solana-url"), view.solana_pay_url);
  assert.equal(await page.getAttribute("#solana-uri", "href"), view.solana_pay_url);
  await page.waitForFunction(() => document.getElementById("solana-qr").naturalWidth > 0);
  assert.ok(await page.isHidden("#m-wallet"), "no EVM wallet for a Solana payment");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling on a phone (${overflow}px)`);
  assert.deepEqual(await axeViolations(page), []);
  await shot(page, "solana-pay");
  await page.close();
});

test("no request from the page leaves 127.0.0.1", () => {
  assert.ok(requested.length > 10, "the pages made requests");
  const foreign = requested.filter((u) => new URL(u).hostname !== "127.0.0.1");
  assert.deepEqual(foreign, []);
});
