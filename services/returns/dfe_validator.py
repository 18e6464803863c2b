"""The DfE CIN validator as an outside judge: run it on an exported file, read what it found.

``csc-validator-be-cin`` 0.1.13 pins pandas 1.x, rich 13 and numpy 1.x, which clash with
frontdoor's own pins, so it lives in its own virtualenv ``.venv-cin`` that
``scripts/cin-validator.sh`` creates on first use. ``run_dfe_validator`` runs
``dfe_validator_probe.py`` there on one XML file and returns its findings: child-level issues as
(rule, child, ERROR|QUERY) and return-level rule codes. Used by the tests; slow (pandas).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from pydantic import BaseModel, ConfigDict

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "cin-validator.sh"
PROBE = Path(__file__).resolve().parent / "dfe_validator_probe.py"


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str
    type: str
    child_id: str | None = None


class ValidatorReport(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    child_level: tuple[Finding, ...]
    return_level: tuple[Finding, ...]
    crashed_rules: tuple[str, ...]

    @property
    def child_errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.child_level if f.type == "ERROR")


def run_dfe_validator(xml_file: Path, *, ruleset: str = "cin2024_25") -> ValidatorReport:
    """Validate ``xml_file`` with the DfE rules of ``ruleset``; raises if the run fails."""
    done = subprocess.run(
        ["bash", str(SCRIPT), "--python", str(PROBE), str(xml_file), ruleset],
        capture_output=True,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the DfE validator failed: {done.stderr.decode()[-2000:]}")
    return ValidatorReport.model_validate(json.loads(done.stdout))
