#!/usr/bin/env bash
# Installs the Node tools the e2e tests run, newman and openapi-to-postmanv2, exactly as pinned
# by package-lock.json, into ./node_modules (`npm ci`). Node.js and npm come from Debian when
# they are missing and the script runs as root. Re-runs are instant until package.json or
# package-lock.json changes.
#
# Like provision_services.sh: when Node cannot be provided, it says how to install it; with
# CI=true that fails the run, otherwise the tests that need it are skipped.
set -euo pipefail

cd "$(dirname "$0")/.."
STAMP=node_modules/.installed
MIN_NODE_MAJOR=18  # openapi-to-postmanv2 6.x

log() { printf 'provision-node: %s\n' "$*" >&2; }

node_usable() {
  command -v node >/dev/null && command -v npm >/dev/null \
    && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge "$MIN_NODE_MAJOR" ]
}

if ! node_usable && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  log "apt-get update && apt-get install nodejs npm"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >&2
fi
if ! node_usable; then
  log "Node.js >= $MIN_NODE_MAJOR with npm is not available, so the Postman tests cannot run."
  log "  To install it: sudo apt-get update && sudo apt-get install -y nodejs npm   (then run make test again)"
  if [ "${CI:-}" = "true" ]; then
    exit 1
  fi
  log "  (CI is not 'true': those tests will be skipped)"
  exit 0
fi

if [ -f "$STAMP" ] && [ "$STAMP" -nt package.json ] && [ "$STAMP" -nt package-lock.json ]; then
  exit 0
fi
log "npm ci (node $(node --version), npm $(npm --version))"
npm ci --no-audit --no-fund --loglevel=error >&2
touch "$STAMP"
