-- wrk script: POST /v1/payment_intents with a fresh Idempotency-Key per request.
-- Env: SK (secret key), RUN (unique run tag).
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end

function init(args)
  counter = 0
  body = '{"amount":"25.00","currency":"usd","metadata":{"order_id":"bench"},'
      .. '"settlement":{"asset":"usdc","chain":"base","address":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}}'
  headers = {
    ["Authorization"] = "Bearer " .. os.getenv("SK"),
    ["Content-Type"] = "application/json",
  }
  run = os.getenv("RUN") or "run"
end

function request()
  counter = counter + 1
  headers["Idempotency-Key"] = run .. "-" .. tid .. "-" .. counter
  return wrk.format("POST", "/v1/payment_intents", headers, body)
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d rps=%.1f p50_ms=%.2f p99_ms=%.2f errors=%d non2xx=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
