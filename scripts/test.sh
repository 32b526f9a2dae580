#!/usr/bin/env bash
# `make test`: every check, against a private Postgres cluster that is
# created for this run and stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

export OCHRE_TEST_PG_DIR="${OCHRE_TEST_PG_DIR:-/tmp/ochre-test-$(id -u)-make}"

# The suite, its dependencies' installation included, must leave a git
# checkout as it found it (clean on a fresh clone): the tree's state now is
# compared at the end.
# shellcheck source=scripts/tree-state.sh
. scripts/tree-state.sh
tree_before=$(tree_state)
echo "==> dependencies (scripts/install-deps.sh)"
./scripts/install-deps.sh
BUF=node_modules/.bin/buf

# shellcheck source=scripts/cluster.sh
. scripts/cluster.sh
trap stop_cluster EXIT
stop_cluster
rm -rf "$OCHRE_TEST_PG_DIR"

echo "==> buf lint"
"$BUF" lint
echo "==> buf breaking (against proto/baseline.binpb)"
"$BUF" breaking --against proto/baseline.binpb
echo "==> @ochre/client: buf generate, tsc (JS and .d.ts), esbuild browser bundle"
npm run --silent build -w @ochre/client
echo "==> tsc --noEmit (the package and its browser test page), the test page bundle"
npm run --silent typecheck -w @ochre/client
npm run --silent bundle-test -w @ochre/client

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "==> cargo doc (intra-doc links of the server are checked)"
RUSTDOCFLAGS="-D rustdoc::broken_intra_doc_links -D rustdoc::private_intra_doc_links" \
  cargo doc --no-deps -p ochre-server --quiet
echo "==> doc tests (a MAC tag compares only in constant time: \`==\` must not compile)"
cargo test --doc -p ochre-server --quiet
echo "==> doc tests of the SDK (its rustdoc and README examples compile)"
cargo test --doc -p ochre-sdk --quiet

echo "==> cargo doc (the SDK's public API, intra-doc links checked)"
RUSTDOCFLAGS="-D rustdoc::broken_intra_doc_links -D rustdoc::private_intra_doc_links" \
  cargo doc --no-deps -p ochre-sdk --quiet
echo "==> the SDK packages and builds on its own (offline)"
scripts/sdk-check.sh

echo "==> cargo build (binaries and SDK examples used by the end-to-end tests)"
cargo build --workspace --bins --quiet
cargo build -p ochre-sdk --examples --quiet
export OCHRE_BIN="$PWD/target/debug/ochre"
export OCHRE_SDK_EXAMPLES="$PWD/target/debug/examples"
echo "==> tests"
# Every server's log of this run is captured (redacted) here and scanned
# for the fixed canary set afterwards (README, Logs).
export OCHRE_TEST_LOG_DIR="$PWD/target/test-logs"
rm -rf "$OCHRE_TEST_LOG_DIR"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
echo "==> the captured server logs hold no canary"
cargo run --quiet -p ochre-tests --bin ochre-scan-logs -- "$OCHRE_TEST_LOG_DIR"
echo "==> the tree is as the suite and \`make deps\` found it (git status)"
tree_unchanged "the suite" "$tree_before"
