// The hosted checkout page in a real Chromium (Debian's, driven by playwright-core) against a
// real gateway on the devnet: a shopper pays through the page with an injected test wallet and
// the merchant's USDC balance on chain rises by exactly the amount; expired, canceled and
// German pages; axe-core accessibility; a phone viewport; and not one request leaves
// 127.0.0.1. Screenshots go to $CHECKOUT_ARTIFACTS (default target/browser-artifacts).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { startGateway, merchantApi, devnetBase, usdcBalance, launch, MERCHANT } from "./harness.mjs";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const ARTIFACTS = process.env.CHECKOUT_ARTIFACTS ?? new URL("../../target/browser-artifacts", import.meta.url).pathname;
mkdirSync(ARTIFACTS, { recursive: true });

let gw, net, browser;
const requested = [];

before(async () => {
  gw = await startGateway();
  net = devnetBase(gw);
  browser = await launch(net);
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

test("no request from the page leaves 127.0.0.1", () => {
  assert.ok(requested.length > 10, "the pages made requests");
  const foreign = requested.filter((u) => new URL(u).hostname !== "127.0.0.1");
  assert.deepEqual(foreign, []);
});
