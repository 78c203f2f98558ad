#!/usr/bin/env bash
# The README's first command: install what the main job needs on a fresh Debian
# machine, then run it end to end on the host simulator (no hardware, no
# emulator): inspect the bundled example model, export it in f32, s16 and s8,
# and verify every BatchNorm layer on `host-sim` against PyTorch eval mode.
# Results go to ./out/.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if ! command -v gcc >/dev/null || ! command -v make >/dev/null; then
    apt-get update -q
    apt-get install -y -q --no-install-recommends gcc make libc6-dev
fi
pip install -q torch==2.13.0
pip install -q -e .
mkdir -p out
MODEL=toolkit.examples.tiny:build
toolkit inspect "$MODEL"
for dtype in f32 s16 s8; do
    toolkit export "$MODEL" --dtype "$dtype" -o "out/tiny-$dtype.bnm"
done
for dtype in f32 s16 s8; do
    toolkit verify "$MODEL" --board host-sim --dtype "$dtype" --batch-sizes 1,5 \
        --report "out/verify-$dtype.json" --plot "out/verify-$dtype.png"
done
echo "reports: out/verify-{f32,s16,s8}.json, plots: out/verify-{f32,s16,s8}.png"
