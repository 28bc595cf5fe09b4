// Hosted checkout page figures for docs/BENCHMARKS.md (not a test; nothing is asserted):
// transfer size of everything the page loads (HTML, CSS, JS, the session JSON) and its time to
// interactive, i.e. from navigation start to the `checkout-ready` mark the page sets once it
// has drawn the session and wired its buttons. Fresh profile; each run in a new page with the
// HTTP cache disabled. Usage: RIALTO_BIN=… ANVIL_BIN=… node bench.mjs [runs]
import { startGateway, merchantApi, devnetBase, launch } from "./harness.mjs";

const runs = Number(process.argv[2] ?? 20);
const gw = await startGateway();
const browser = await launch(devnetBase(gw));
const results = [];
try {
  for (let i = 0; i < runs; i++) {
    const s = await merchantApi(gw, "POST", "/v1/checkout_sessions", {
      amount: "25.00", currency: "usd", success_url: `${gw.base}/health`, cancel_url: `${gw.base}/health`,
    });
    const page = await browser.context.newPage();
    const cdp = await browser.context.newCDPSession(page);
    await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
    await page.goto(s.url);
    await page.waitForSelector("body[data-ready='1']");
    results.push(await page.evaluate(() => {
      const nav = performance.getEntriesByType("navigation")[0];
      const res = performance.getEntriesByType("resource").filter((r) => !r.name.endsWith(".svg"));
      const ready = performance.getEntriesByName("checkout-ready")[0];
      return {
        bytes: nav.transferSize + res.reduce((n, r) => n + r.transferSize, 0),
        body: nav.decodedBodySize + res.reduce((n, r) => n + r.decodedBodySize, 0),
        requests: 1 + res.length,
        tti: ready.startTime,
      };
    }));
    await page.close();
  }
} finally {
  await browser.close();
  gw.stop();
}
const sorted = (k) => results.map((r) => r[k]).sort((a, b) => a - b);
const median = (k) => sorted(k)[Math.floor(results.length / 2)];
console.log(JSON.stringify({
  runs,
  requests: median("requests"),
  transfer_bytes_median: median("bytes"),
  decoded_body_bytes_median: median("body"),
  time_to_interactive_ms_median: Math.round(median("tti")),
  time_to_interactive_ms_max: Math.round(sorted("tti").at(-1)),
}, null, 2));
