#!/usr/bin/env bash
# Provides the servers that tests/integration and tests/e2e start on their own ports:
# redis-server (Debian's package) and FerretDB (built once from the Go module proxy, cached), and
# the browser the web client's tests drive: Debian's Chromium.
#
# stdout: KEY=VALUE lines for the test run (FERRETDB_BIN, REDIS_SERVER_BIN, CHROMIUM_BIN); everything else
# goes to stderr. A service that cannot be provided is reported with how to install it: with
# CI=true that fails the run, otherwise its tests are skipped.
set -euo pipefail

FERRETDB_VERSION="v1.24.2"
FERRETDB_MODULE="github.com/FerretDB/FerretDB"
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/flask-api"
FERRETDB_CACHED_BIN="$CACHE_DIR/ferretdb-$FERRETDB_VERSION"

APT_UPDATED=0
FAILED=0
CLEANUP_PATHS=()

log() { printf 'provision: %s\n' "$*" >&2; }

cleanup() {
  local path
  for path in "${CLEANUP_PATHS[@]+"${CLEANUP_PATHS[@]}"}"; do
    rm -rf -- "$path"
  done
}
trap cleanup EXIT

unavailable() {  # <service> <how to install it>
  log "$1 is not available, so the tests that need it cannot run."
  log "  To install it: $2"
  if [ "${CI:-}" = "true" ]; then
    FAILED=1
  else
    log "  (CI is not 'true': those tests will be skipped)"
  fi
}

is_root() { [ "$(id -u)" -eq 0 ]; }

apt_install() {  # <package>...
  if [ "$APT_UPDATED" -eq 0 ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    APT_UPDATED=1
  fi
  # Debian starts a packaged daemon on install; the tests start their own servers on free
  # ports, so keep the system one from starting at all (policy-rc.d is honoured by invoke-rc.d
  # and deb-systemd-invoke alike, with or without systemd).
  local policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    CLEANUP_PATHS+=("$policy")
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# A program from a Debian package: $<env var> if it names an executable, else <command> on PATH,
# else (as root) the packages installed with apt-get.
provide_debian_program() {  # <env var> <command> <package>...
  local var="$1" name="$2" bin
  shift 2
  bin="${!var:-}"
  if [ -n "$bin" ] && [ -x "$bin" ]; then
    echo "$var=$bin"
    return
  fi
  bin="$(command -v "$name" || true)"
  if [ -z "$bin" ] && is_root && command -v apt-get >/dev/null; then
    apt_install "$@"
    bin="$(command -v "$name" || true)"
  fi
  if [ -z "$bin" ]; then
    unavailable "$name" "sudo apt-get update && sudo apt-get install -y $*   (then run make test again)"
    return
  fi
  log "$name: $bin ($("$bin" --version 2>/dev/null | head -n1))"
  echo "$var=$bin"
}

provide_redis() {
  provide_debian_program REDIS_SERVER_BIN redis-server redis-server
}

ferretdb_usable() {  # <path>: an executable that reports the pinned version
  [ -x "$1" ] && "$1" --version 2>/dev/null | grep -qx "version: $FERRETDB_VERSION"
}

find_go() {
  local go
  for go in "$(command -v go || true)" /usr/local/go/bin/go "$HOME/go/bin/go" /usr/lib/go/bin/go; do
    if [ -n "$go" ] && [ -x "$go" ]; then
      echo "$go"
      return 0
    fi
  done
  return 1
}

build_ferretdb() {  # <go>
  local go="$1" work json dir started
  started=$SECONDS
  work="$(mktemp -d "$CACHE_DIR/ferretdb-build.XXXXXX")" || return 1
  CLEANUP_PATHS+=("$work")
  log "building FerretDB $FERRETDB_VERSION into $FERRETDB_CACHED_BIN (about a minute, once)"
  # `go install ...@version` is refused here (the proxy does not serve the version list), but
  # downloading the exact module version works. It lands read-only in the module cache, and
  # build/version/version.txt is generated upstream by `task gen-version`: without it the
  # binary panics at start. So build from a writable copy that has it.
  if ! json="$(cd "$work" && GOFLAGS=-mod=mod "$go" mod download -json "$FERRETDB_MODULE@$FERRETDB_VERSION")"; then
    log "go mod download failed: $json"
    return 1
  fi
  # Called as an `if` condition, where `set -e` does not apply: every step checks itself.
  dir="$(printf '%s' "$json" | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')" \
    || return 1
  cp -R "$dir" "$work/src" || return 1
  chmod -R u+w "$work/src" || return 1
  printf '%s\n' "$FERRETDB_VERSION" >"$work/src/build/version/version.txt" || return 1
  (cd "$work/src" && GOFLAGS="-buildvcs=false -mod=mod" "$go" build -trimpath \
    -o "$work/ferretdb" ./cmd/ferretdb) >&2 || return 1
  ferretdb_usable "$work/ferretdb" || return 1
  mv -f "$work/ferretdb" "$FERRETDB_CACHED_BIN" || return 1
  log "FerretDB built in $((SECONDS - started)) s"
}

provide_ferretdb() {
  local go
  if [ -n "${FERRETDB_BIN:-}" ] && ferretdb_usable "$FERRETDB_BIN"; then
    echo "FERRETDB_BIN=$FERRETDB_BIN"
    return
  fi
  if ! ferretdb_usable "$FERRETDB_CACHED_BIN"; then
    if ! go="$(find_go)"; then
      unavailable "FerretDB $FERRETDB_VERSION" \
        "install Go >= 1.24 (https://go.dev/dl/, e.g. into /usr/local/go with /usr/local/go/bin on PATH), then run make test again; it builds $FERRETDB_CACHED_BIN"
      return
    fi
    mkdir -p "$CACHE_DIR"
    # One build at a time per cache directory; whoever waited reuses the result.
    exec 9>"$CACHE_DIR/.ferretdb-build.lock"
    if command -v flock >/dev/null; then flock 9; fi
    if ! ferretdb_usable "$FERRETDB_CACHED_BIN"; then
      if ! build_ferretdb "$go"; then
        unavailable "FerretDB $FERRETDB_VERSION" \
          "the build with $go failed (see above); fix it or set FERRETDB_BIN to a FerretDB $FERRETDB_VERSION binary"
        exec 9>&-
        return
      fi
    fi
    exec 9>&-
  fi
  log "ferretdb: $FERRETDB_CACHED_BIN ($FERRETDB_VERSION)"
  echo "FERRETDB_BIN=$FERRETDB_CACHED_BIN"
}

# Playwright drives Debian's Chromium (never `playwright install`, which downloads a browser
# build of its own). fonts-liberation is only a recommendation of the package, but without any
# fonts the pages (and docs/web-client.png) render as boxes.
provide_chromium() {
  provide_debian_program CHROMIUM_BIN chromium chromium fonts-liberation
}

provide_redis
provide_ferretdb
provide_chromium
if [ "$FAILED" -ne 0 ]; then
  log "CI=true: a service the tests need is missing (see above)."
  exit 1
fi
