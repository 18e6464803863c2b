"""The log pipeline drops personal data whatever a caller passes."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr

import structlog

from services.common.logging import configure_logging, drop_personal_data


def test_personal_data_keys_are_removed_and_named() -> None:
    out = drop_personal_data(
        None,
        "info",
        {
            "event": "x",
            "child_id": "C1",
            "Summary": "story",
            "date_of_birth": "2017-01-01",
            "given_name": "Alex",
        },
    )
    assert out == {
        "event": "x",
        "child_id": "C1",
        "redacted_keys": ["Summary", "date_of_birth", "given_name"],
    }


def test_json_lines_when_not_on_a_terminal_without_personal_data() -> None:
    buf = io.StringIO()
    with redirect_stderr(buf):
        configure_logging(json=True)
        structlog.get_logger("t").info("referral_screened", child_id="C9", family_name="Smith")
    structlog.reset_defaults()
    line = json.loads(buf.getvalue().strip().splitlines()[-1])
    assert line["event"] == "referral_screened"
    assert line["child_id"] == "C9"
    assert "Smith" not in buf.getvalue()
