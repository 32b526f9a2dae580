#!/usr/bin/env bash
# The Rust SDK builds on its own, as a partner gets it: `cargo package -p
# ochre-sdk`, then the packaged crate (with its own copy of the contract,
# sdk/proto) is unpacked outside the workspace and built with its examples,
# offline, from the crates already in the local registry cache (the
# workspace build put them there) and the lock file the package carries.
#
# Usage: scripts/sdk-check.sh   (run by `make test`; about a minute once
# its target directory, target/sdk-check, is warm)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

echo "==> the SDK's copy of the contract equals proto/"
if ! diff -r proto/ochre sdk/proto/ochre >/dev/null; then
  echo "sdk/proto differs from proto; run: rm -rf sdk/proto/ochre && cp -r proto/ochre sdk/proto/" >&2
  exit 1
fi

echo "==> cargo package -p ochre-sdk"
# --allow-dirty: the check also runs on a working tree with changes.
cargo package -p ochre-sdk --offline --allow-dirty --no-verify --quiet
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
CRATE="$ROOT/target/package/ochre-sdk-$VERSION.crate"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/ochre-sdk-check.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
tar -xzf "$CRATE" -C "$WORK"
PKG="$WORK/ochre-sdk-$VERSION"
for f in proto/ochre/v1/access.proto codegen/client.rs README.md examples/api_key_partner.rs; do
  [ -f "$PKG/$f" ] || { echo "the package lacks $f" >&2; exit 1; }
done
[ ! -e "$PKG/../proto" ] || { echo "a ../proto next to the package would hide a missing copy" >&2; exit 1; }

echo "==> building the packaged crate offline (library and examples)"
(
  cd "$PKG"
  CARGO_TARGET_DIR="$ROOT/target/sdk-check" CARGO_PROFILE_DEV_DEBUG=false \
    cargo build --offline --locked --lib --examples --quiet
)
echo "ochre-sdk $VERSION packages and builds on its own"
