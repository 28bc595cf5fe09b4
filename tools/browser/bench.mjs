// Hosted checkout page figures for docs/BENCHMARKS.md (not a test; nothing is asserted):
// transfer size of everything the page loads (HTML, CSS, JS, the session JSON) and its time to
// interactive, i.e. from navigation start to the `checkout-ready` mark the page sets once it
// has drawn the session and wired its buttons. Each run is a first visit in a
// fresh chromium profile. Usage: RIALTO_BIN=… ANVIL_BIN=… node bench.mjs [runs]
import { startGateway, merchantApi, devnetBase, launch } from "./harness.mjs";

const runs = Number(process.argv[2] ?? 20);
const gw = await startGateway();
const net = devnetBase(gw);
const results = [];
try {
  for (let i = 0; i < runs; i++) {
    const s = await merchantApi(gw, "POST", "/v1/checkout_sessions", {
      amount: "25.00", currency: "usd", success_url: `${gw.base}/health`, cancel_url: `${gw.base}/health`,
    });
    // A first visit: a fresh chromium profile each run, so nothing comes from a cache.
    const browser = await launch(net);
    const page = await browser.context.newPage();
    const finished = [];
    page.on("requestfinished", (r) => finished.push(r));
    await page.goto(s.url);
    await page.waitForSelector("body[data-ready='1']");
    // Bytes on the wire as chromium counted them (headers + body, no compression here).
    let bytes = 0, body = 0;
    for (const r of finished) {
      const z = await r.sizes();
      bytes += z.responseHeadersSize + z.responseBodySize + z.requestHeadersSize;
      body += z.responseBodySize;
    }
    const tti = await page.evaluate(() => performance.getEntriesByName("checkout-ready")[0].startTime);
    results.push({ bytes, body, requests: finished.length, tti });
    await browser.close();
  }
} finally {
  gw.stop();
}
const sorted = (k) => results.map((r) => r[k]).sort((a, b) => a - b);
const median = (k) => sorted(k)[Math.floor(results.length / 2)];
console.log(JSON.stringify({
  runs,
  requests: median("requests"),
  transfer_bytes_median: median("bytes"),
  response_body_bytes_median: median("body"),
  time_to_interactive_ms_median: Math.round(median("tti")),
  time_to_interactive_ms_max: Math.round(sorted("tti").at(-1)),
}, null, 2));
