#!/usr/bin/env bash
# The DfE CIN census rules (csc-validator-be-cin) in their own virtualenv, .venv-cin.
#
# The validator pins pandas<2, rich<14 and numpy<2, which conflict with frontdoor's own pins
# (rich 15), so it cannot live in .venv. This script creates .venv-cin on first use with exact
# pins, then runs the validator with the arguments given:
#   scripts/cin-validator.sh run FILE.xml -r cin2024_25     (python -m cin_validator …)
#   scripts/cin-validator.sh --python FILE.py ARGS…          (a script in that venv)
#   scripts/cin-validator.sh --install                       (only create the venv)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CIN_VALIDATOR_VENV:-$ROOT/.venv-cin}"
PYTHON="${PYTHON:-python3}"
PINS=("csc-validator-be-cin==0.1.13" "numpy<2" "pytest==9.2.0")  # pytest: imported by its __main__
STAMP="$VENV/.installed-csc-validator-be-cin-0.1.13-pytest"

if [[ ! -f "$STAMP" ]]; then
    test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --disable-pip-version-check -q "${PINS[@]}"
    touch "$STAMP"
fi

case "${1:-}" in
    --install) exit 0 ;;
    --python) shift; exec "$VENV/bin/python" "$@" ;;
    *) exec "$VENV/bin/python" -m cin_validator "$@" ;;
esac
