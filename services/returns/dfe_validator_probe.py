"""Runs the DfE CIN rules (csc-validator-be-cin) on one XML file and prints the findings as JSON.

This file runs inside ``.venv-cin`` (``scripts/cin-validator.sh --python <this file> FILE.xml
[RULESET]``), where the validator and its pandas 1.x live; it imports nothing from frontdoor and
only the standard library besides ``cin_validator``. Output, one JSON object on stdout:
``child_level`` — one entry per (child, rule) with the rule code and its type (ERROR or QUERY);
``return_level`` — the rule codes of issues without a child (header and LA-level rules).
``services.returns.dfe_validator`` calls it and reads the result.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import sys
import warnings
import xml.etree.ElementTree as ET
from typing import Any


def main(argv: list[str]) -> int:
    path = argv[1]
    ruleset = argv[2] if len(argv) > 2 else "cin2024_25"
    warnings.simplefilter("ignore")
    from cin_validator import cin_validator  # type: ignore[import-not-found]  # in .venv-cin only

    registry: dict[str, Any] = importlib.import_module(f"cin_validator.rules.{ruleset}").registry
    root = ET.parse(path).getroot()  # noqa: S314 - our own export, not untrusted input
    data = cin_validator.process_data(cin_validator.convert_data(root))
    crashed = io.StringIO()
    with contextlib.redirect_stdout(crashed):  # the validator prints rules that raised
        validator = cin_validator.CinValidator(data, registry)
    issues = validator.full_issue_df
    child_level = sorted(
        {
            (str(row["rule_code"]), str(row["child_id"]))
            for _, row in issues.iterrows()
            if str(row.get("child_id")) not in ("nan", "<NA>", "None")
        }
    )
    return_level = sorted({str(code) for code in validator.multichild_issues["rule_code"]})
    types = {str(code): rule.rule_type.name for code, rule in registry.items()}
    report = {
        "child_level": [
            {"rule": code, "child_id": child, "type": types.get(code, "UNKNOWN")}
            for code, child in child_level
        ],
        "return_level": [
            {"rule": code, "type": types.get(code, "UNKNOWN")} for code in return_level
        ],
        "crashed_rules": [line for line in crashed.getvalue().splitlines() if line.strip()],
    }
    json.dump(report, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
