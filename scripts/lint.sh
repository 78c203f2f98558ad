#!/usr/bin/env bash
# Lint without changing anything: ruff (rules in pyproject.toml) on the Python
# code, clang-format (style in .clang-format) on the C code.  Exit status 1 on
# any finding.  CONTRIBUTING.md ("Lint") has the commands that fix them.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
if command -v ruff >/dev/null; then
    ruff check . || status=1
else
    echo "error: ruff is not installed; pip install ruff (scripts/setup-and-test.sh installs it)" >&2
    status=1
fi
# The generated header follows its generator, not this style; the test kernels
# under tests/user/kernels stand for users' own code (one does not even compile).
mapfile -t c_files < <(git ls-files '*.c' '*.h' | grep -v -e '^firmware/include/bnrt_spec\.h$' -e '^tests/user/kernels/')
if command -v clang-format >/dev/null; then
    clang-format --dry-run --Werror "${c_files[@]}" || status=1
else
    echo "error: clang-format is not installed; apt-get install clang-format" >&2
    status=1
fi
exit $status
