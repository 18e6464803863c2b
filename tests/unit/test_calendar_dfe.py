"""`InitialCPCtarget` equals the DfE CIN validator's own computation (DOMAIN.md §2, §6).

The validator (csc-validator-be-cin, installed in .venv-cin) computes the ICPC target as the s47
start + `cin_validator.utils.england_working_days(15)` (pandas CustomBusinessDay(n - 1) on its
own England holiday calendar). This runs that function in its own venv for every day of
2024–2026 — every start weekday, weekend and bank holiday — and compares it with
`WorkingCalendar.dfe_target_date`, which the census export uses.
"""

from __future__ import annotations

import json
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest

from services.common.calendar import WorkingCalendar

CIN_PYTHON = Path(__file__).resolve().parents[2] / ".venv-cin" / "bin" / "python"
ICPC_WORKING_DAYS = 15

_VALIDATOR_SCRIPT = """
import json, sys
import pandas as pd
from cin_validator.utils import england_working_days
days = pd.to_datetime(json.loads(sys.stdin.read()))
print(json.dumps([(d + england_working_days(15)).date().isoformat() for d in days]))
"""


@pytest.mark.skipif(not CIN_PYTHON.exists(), reason="the DfE validator venv is not installed")
def test_initial_cpc_target_matches_the_dfe_validator_every_day_2024_to_2026() -> None:
    starts = [
        date(2024, 1, 1) + timedelta(days=i)
        for i in range((date(2027, 1, 1) - date(2024, 1, 1)).days)
    ]
    done = subprocess.run(
        [str(CIN_PYTHON), "-c", _VALIDATOR_SCRIPT],
        input=json.dumps([d.isoformat() for d in starts]),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    theirs = [date.fromisoformat(d) for d in json.loads(done.stdout)]
    calendar = WorkingCalendar.england_and_wales(2023, 2027)
    ours = [calendar.dfe_target_date(d, ICPC_WORKING_DAYS) for d in starts]
    differ = [(s, o, v) for s, o, v in zip(starts, ours, theirs, strict=True) if o != v]
    assert differ == []
    # the cases DOMAIN.md §2 names: Wed 5 Jun 2024 → Tue 25 Jun; Sat 8 Jun 2024 → Thu 27 Jun
    assert calendar.dfe_target_date(date(2024, 6, 5), 15) == date(2024, 6, 25)
    assert calendar.dfe_target_date(date(2024, 6, 8), 15) == date(2024, 6, 27)
