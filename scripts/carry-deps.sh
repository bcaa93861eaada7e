#!/usr/bin/env bash
# Copies what scripts/gpu-check.sh needs but the GPU machine cannot download into .deps/
# (ignored by git; pass it in the device tool's carry list): GoogleTest's sources.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh > /dev/null
mkdir -p .deps
[ -d .deps/googletest ] || cp -r /usr/src/googletest .deps/googletest
