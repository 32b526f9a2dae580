#!/usr/bin/env bash
# Installs what `make run` and `make test` need and is missing:
# the PostgreSQL server binaries (apt-get, when root), and the npm tools
# (buf, protoc-gen-es, the connect clients) pinned in package-lock.json.
# protoc is not needed: the Rust build compiles proto/ with protox.
set -euo pipefail
cd "$(dirname "$0")/.."

have_pg() {
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null 2>&1
}

if ! have_pg; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing the PostgreSQL server (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql-15 >/dev/null || apt-get install -y -qq postgresql >/dev/null
  else
    echo "error: the PostgreSQL server binaries (initdb, pg_ctl, postgres) are missing." >&2
    echo "       Install them (Debian/Ubuntu: sudo apt-get install postgresql), or set DATABASE_URL." >&2
    exit 1
  fi
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing Node.js (apt-get)"
    apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
  else
    echo "error: node and npm are required for buf and the TypeScript client." >&2
    exit 1
  fi
fi

stamp=node_modules/.ochre-lock
if [ ! -x node_modules/.bin/buf ] || [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  # Versions are pinned exactly in package.json and locked in
  # package-lock.json. (`npm ci` is not used: npm 11 omits other platforms'
  # optional buf binaries from the lock and then refuses its own lock.)
  echo "==> installing the npm tools (npm install, pinned)"
  npm install --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
