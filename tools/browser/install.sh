#!/usr/bin/env bash
# Installs what the hosted checkout's browser tests need: Debian's chromium (only when
# /usr/bin/chromium is missing; apt-get, no browser download from anywhere else) and the pinned
# npm packages (playwright-core, axe-core, viem) from package-lock.json.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >&2
fi
npm ci --no-audit --no-fund --loglevel=error >&2
