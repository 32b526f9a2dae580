#!/usr/bin/env bash
# `make schema-snapshot`: migrate a fresh database on a private Postgres
# cluster (created for this run, stopped at the end) and rewrite
# migrations/schema.snapshot from its catalog. Commit the file with the
# migration: its diff is what the schema change does.
set -euo pipefail
cd "$(dirname "$0")/.."

export OCHRE_TEST_PG_DIR="${OCHRE_TEST_PG_DIR:-/tmp/ochre-test-$(id -u)-snapshot}"

# shellcheck source=scripts/cluster.sh
. scripts/cluster.sh
trap stop_cluster EXIT
stop_cluster
rm -rf "$OCHRE_TEST_PG_DIR"

cargo run --quiet -p ochre-tests --bin ochre-schema-snapshot
