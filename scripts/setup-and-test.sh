#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine, then runs the
# linters (scripts/lint.sh) and the whole test suite.  This is the README's
# second command; .ci/run runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
    gcc make clang libclang-rt-14-dev gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm \
    cmake ser2net firmware-microbit-micropython clang-format
pip install -q torch==2.13.0
pip install -q -e '.[test,bench,micropython,farm,lint]'
# MicroPython's WebAssembly port, a second interpreter for the portable path
# (tests/mpy/test_wasm.py; skipped with the reason if this install failed)
for attempt in 1 2 3; do
    npm install --prefix firmware/build/mpy-wasm --no-audit --no-fund --silent \
        @micropython/micropython-webassembly-pyscript@1.27.0 && break
    echo "npm install failed (attempt $attempt)" >&2
    sleep 5
done
# Lint findings fail the run too, but only after the tests have run.
lint=0
bash scripts/lint.sh || lint=$?
python -m pytest -q "$@"
exit $lint
