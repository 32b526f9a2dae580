#!/usr/bin/env bash
# Installs what `make run` and `make test` need and is missing:
# the PostgreSQL server binaries, PgBouncer and Chromium (apt-get, when
# root), and the npm tools (buf, protoc-gen-es, the connect clients,
# typescript, esbuild, playwright-core) pinned in package-lock.json.
# protoc is not needed: the Rust build compiles proto/ with protox.
# It leaves a git checkout as it found it (clean on a fresh clone), and
# fails when it did not: `git status` and the tracked changes are compared
# at the end (`make run`, `make test`, `make deps` all start here).
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/tree-state.sh
. scripts/tree-state.sh
tree_before=$(tree_state)

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

# PgBouncer for the replica tests through a transaction pooler
# (tests/src/bouncer.rs runs its own; the package's service is not started).
if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing PgBouncer (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq pgbouncer >/dev/null
    # Debian starts the packaged service where it can; the tests need none.
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet pgbouncer 2>/dev/null; then
      systemctl disable --now pgbouncer >/dev/null 2>&1 || true
    elif command -v service >/dev/null 2>&1; then
      service pgbouncer stop >/dev/null 2>&1 || true
    fi
  else
    echo "error: PgBouncer is missing (the replica tests run through it)." >&2
    echo "       Install it (Debian/Ubuntu: sudo apt-get install pgbouncer)." >&2
    exit 1
  fi
fi

# Chromium for the browser test of the TypeScript package (driven by
# playwright-core, which downloads no browser of its own).
if [ ! -x /usr/bin/chromium ] && [ -z "${OCHRE_CHROMIUM:-}" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing Chromium (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
  else
    echo "error: Chromium is missing (the browser test needs it)." >&2
    echo "       Install it (Debian: sudo apt-get install chromium), or set OCHRE_CHROMIUM to a Chromium binary." >&2
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

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "warning: Node.js $(node --version 2>/dev/null) is older than the supported Node 20." >&2
fi

stamp=node_modules/.ochre-lock
if [ ! -x node_modules/.bin/buf ] || [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  # Versions are pinned exactly in package.json and locked in
  # package-lock.json, which this never rewrites (the tree stays clean after
  # `make run` and `make test`): `npm ci` installs exactly the lock; when an
  # npm refuses a lock written on another platform (npm 11 omits other
  # platforms' optional buf binaries), `npm install` installs from it and the
  # tracked lock is put back as it was.
  echo "==> installing the npm tools (pinned in package-lock.json)"
  lock_copy=$(mktemp)
  cp package-lock.json "$lock_copy"
  # playwright-core never downloads a browser; this makes sure of it.
  if ! PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error; then
    echo "==> npm ci refused the lock; npm install from it instead"
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error
  fi
  cmp -s package-lock.json "$lock_copy" || cp "$lock_copy" package-lock.json
  rm -f "$lock_copy"
  cp package-lock.json "$stamp"
fi

# The input guard's benchmark data (`ochre-bench guard`, and the e2e test
# of its targets): the pinned agentdojo (MIT) and spikee (Apache-2.0) wheels
# from PyPI, downloaded without their dependencies and read as zip files
# by scripts/guard-data.py into .deps/guard-data/cases.jsonl.
GUARD_WHEELS="agentdojo==0.1.35 spikee==0.9.2"
guard_dir=.deps/guard-data
if [ ! -f "$guard_dir/cases.jsonl" ] || [ ! -f "$guard_dir/.stamp" ] \
   || [ "$(cat "$guard_dir/.stamp")" != "$GUARD_WHEELS $(sha256sum scripts/guard-data.py | cut -c1-16)" ]; then
  echo "==> installing the guard benchmark data ($GUARD_WHEELS)"
  command -v python3 >/dev/null 2>&1 || { echo "error: python3 is required for the guard data" >&2; exit 1; }
  python3 -c 'import yaml' 2>/dev/null || python3 -m pip install --quiet 'PyYAML==6.0.3'
  mkdir -p .deps/wheels
  # shellcheck disable=SC2086
  python3 -m pip download --quiet --no-deps -d .deps/wheels $GUARD_WHEELS
  python3 scripts/guard-data.py .deps/wheels/agentdojo-0.1.35-py3-none-any.whl \
    .deps/wheels/spikee-0.9.2-py3-none-any.whl "$guard_dir"
  echo "$GUARD_WHEELS $(sha256sum scripts/guard-data.py | cut -c1-16)" > "$guard_dir/.stamp"
fi

tree_unchanged "installing the dependencies" "$tree_before"
