#!/usr/bin/env bash
# The architecture's doors (ARCHITECTURE.md), checked: the engine pulls in no web server, HTTP
# client, SQL crate or chain SDK and no venue client, nothing outside the HTTP layer imports it,
# and no source file passes 800 lines.
# Exits non-zero, naming what broke, when one does not hold.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0

engine_deps="$(cargo tree -p rialto-engine -e normal --prefix none | sed 's/ v[0-9].*//' | sort -u)"
# Web and SQL crates, HTTP clients and servers (hyper, reqwest, tower), TLS (the gateway owns
# the one rustls configuration), and the chain SDKs: the engine reaches chains, DEXes, bridges
# and price feeds through the `connectors` roles only.
for forbidden in axum axum-core sqlx sqlx-core hyper hyper-util h2 reqwest tower tower-http \
  rustls tokio-rustls hyper-rustls webpki-roots ring \
  alloy alloy-provider alloy-transport-http rialto-evm rialto-solana solana-client surfpool-core; do
  if grep -qx "$forbidden" <<<"$engine_deps"; then
    echo "check-layers: rialto-engine depends on $forbidden:" >&2
    cargo tree -p rialto-engine -e normal -i "$forbidden" >&2 || true
    status=1
  fi
done

# The Solana rail sits beside evm: of our crates it uses core and connectors only.
solana_ours="$(cargo tree -p rialto-solana -e normal --prefix none | sed 's/ v[0-9].*//' | grep '^rialto-' | sort -u)"
for forbidden in rialto-engine rialto-gateway rialto-evm rialto-router rialto-compliance; do
  if grep -qx "$forbidden" <<<"$solana_ours"; then
    echo "check-layers: rialto-solana depends on $forbidden" >&2
    status=1
  fi
done
# The local simnet (surfpool, a whole SVM) is dev/test-only: never linked into the gateway.
if cargo tree -p rialto-gateway -e normal --prefix none | grep -q '^surfpool-core '; then
  echo "check-layers: rialto-gateway links surfpool-core (the simnet is a dev/test-only binary)" >&2
  status=1
fi

# Only the HTTP layer (gateway/src/api) and the gateway's start-up files may name `crate::api`.
offenders="$(grep -rln 'crate::api' --include='*.rs' gateway/src engine/src \
  | grep -v -e '^gateway/src/api/' -e '^gateway/src/server.rs$' -e '^gateway/src/lib.rs$' \
      -e '^gateway/src/main.rs$' || true)"
if [ -n "$offenders" ]; then
  echo "check-layers: outside the HTTP layer, these name crate::api:" >&2
  echo "$offenders" >&2
  status=1
fi

# The engine reaches venues only through `VenueClients`: it turns on none of connectors'
# features (the clients pull in reqwest, the sandbox hyper) and names no concrete client.
engine_features="$(cargo tree -p rialto-engine -e features --prefix none)"
if grep -q '^rialto-connectors feature' <<<"$engine_features"; then
  echo "check-layers: rialto-engine turns on rialto-connectors features:" >&2
  cargo tree -p rialto-engine -e features -i rialto-connectors >&2 || true
  status=1
fi
clients="$(grep -rlnE 'exchange::(binance|kraken|coinbase|sandbox)\b|HttpVenueClients' --include='*.rs' \
  engine/src || true)"
if [ -n "$clients" ]; then
  echo "check-layers: the engine names concrete venue clients or the sandbox exchange:" >&2
  echo "$clients" >&2
  status=1
fi

# House limit: files under 800 lines.
long="$(git ls-files '*.rs' | xargs wc -l | awk '$2 != "total" && $1 > 800 {print $2 " (" $1 " lines)"}')"
if [ -n "$long" ]; then
  echo "check-layers: over 800 lines:" >&2
  echo "$long" >&2
  status=1
fi

if [ "$status" -eq 0 ]; then
  echo "check-layers: engine free of web, SQL, HTTP-client and chain-SDK crates and of venue clients; rialto-solana on core and connectors only; no simnet in the gateway; crate::api only in the HTTP layer; no file over 800 lines"
fi
exit "$status"
