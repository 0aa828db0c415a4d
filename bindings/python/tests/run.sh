#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bindings/python/tests/run.sh - run the Python binding's pytest suite for CTest (test python_binding).
# Usage: run.sh PYTHON TESTS_DIR [pytest args]. pytest's exit code 5 (no test collected) is a failure
# here: a suite that silently collects nothing must not pass.
set -u
py=${1:?usage: run.sh PYTHON TESTS_DIR}
dir=${2:?usage: run.sh PYTHON TESTS_DIR}
shift 2
"$py" -c 'import pytest' 2>/dev/null || {
    echo "FAIL: $py has no pytest (Debian python3-pytest: run scripts/install-deps.sh)"; exit 1; }
"$py" -m pytest -q -p no:cacheprovider -rs "$dir" "$@"
rc=$?
if [ $rc -eq 5 ]; then
    echo "FAIL: pytest collected no tests in $dir"
    exit 1
fi
exit $rc
