"""``frontdoor lag``: the terminal table, and when the ops service's figures are used."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from services.cli import lag as lag_cli
from services.common.settings import Endpoints, write_state

ENDPOINTS = Endpoints(bootstrap_servers="127.0.0.1:9092", database_url="postgresql:///x")


def document(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "bootstrap_servers": "127.0.0.1:9092",
        "at": "2026-03-02T09:00:00Z",
        "window_size": 10,
        "source": "ops-service",
        "groups": [
            {
                "group": "frontdoor-sla",
                "state": "Stable",
                "members": 1,
                "status": "ERR",
                "worst": "STALL",
                "lag_sum": 1234,
                "max_lag": 1200,
                "max_lag_seconds": 125.0,
                "complete": 1.0,
                "partitions": [
                    {
                        "topic": "frontdoor.casework",
                        "partition": 3,
                        "committed": 17,
                        "log_end": 1217,
                        "lag": 1200,
                        "lag_seconds": 125.0,
                        "extrapolated": True,
                        "status": "STALL",
                        "window": 10,
                    },
                    {
                        "topic": "frontdoor.casework",
                        "partition": 4,
                        "committed": -1,
                        "log_end": 34,
                        "lag": -1,
                        "lag_seconds": None,
                        "extrapolated": False,
                        "status": None,
                        "window": 0,
                    },
                    {
                        "topic": "frontdoor.casework",
                        "partition": 5,
                        "committed": 50,
                        "log_end": 84,
                        "lag": 34,
                        "lag_seconds": 4.25,
                        "extrapolated": False,
                        "status": "WARN",
                        "window": 4,
                    },
                ],
            }
        ],
    }
    doc.update(overrides)
    return doc


def rendered(doc: dict[str, Any]) -> str:
    console = Console(record=True, width=140)
    lag_cli.print_lag(doc, console)
    return console.export_text()


def test_table_shows_each_group_with_its_status_and_each_partitions_lag():
    text = rendered(document())
    assert "frontdoor-sla" in text
    assert "ERR · STALL" in text
    assert "frontdoor.casework · 3" in text
    assert "1,200" in text
    assert "~2 m 05 s" in text  # extrapolated time lag is marked
    assert "no commit" in text


def test_warn_on_a_window_not_yet_full_is_marked_provisional():
    assert "WARN?" in rendered(document())


def test_local_sample_says_its_seconds_rest_on_a_few_polls():
    text = rendered(document(source="local-sample"))
    assert "rest on 3 polls" in text


def test_no_groups_says_so():
    assert "No consumer group has committed an offset yet." in rendered(document(groups=[]))


class FakeResponse:
    def __init__(self, doc: dict[str, Any]) -> None:
        self._doc = doc

    def raise_for_status(self) -> None:
        return None

    def json(self) -> dict[str, Any]:
        return self._doc


def test_ops_service_figures_are_used_only_for_the_same_broker(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(
        lag_cli.httpx, "get", lambda *a, **k: FakeResponse(document(bootstrap_servers="other:9092"))
    )
    assert lag_cli.from_ops_service(ENDPOINTS, "http://ops") is None
    monkeypatch.setattr(lag_cli.httpx, "get", lambda *a, **k: FakeResponse(document()))
    doc = lag_cli.from_ops_service(ENDPOINTS, "http://ops")
    assert doc is not None
    assert doc["source"] == "ops-service"


def test_unreachable_ops_service_gives_no_figures(monkeypatch: pytest.MonkeyPatch):
    def refuse(*args: object, **kwargs: object) -> None:
        raise httpx.ConnectError("refused")

    monkeypatch.setattr(lag_cli.httpx, "get", refuse)
    assert lag_cli.from_ops_service(ENDPOINTS, "http://ops") is None


def test_ops_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("FRONTDOOR_OPS_URL", raising=False)
    monkeypatch.setenv("FRONTDOOR_OPS_PORT", "9999")
    assert lag_cli.ops_url() == "http://127.0.0.1:9999"
    monkeypatch.setenv("FRONTDOOR_OPS_URL", "http://ops.example:8080/")
    assert lag_cli.ops_url() == "http://ops.example:8080"


def test_ops_url_is_the_running_stacks_when_the_environment_does_not_say(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    monkeypatch.delenv("FRONTDOOR_OPS_URL", raising=False)
    monkeypatch.delenv("FRONTDOOR_OPS_PORT", raising=False)
    monkeypatch.setenv("FRONTDOOR_DATA_DIR", str(tmp_path))
    assert lag_cli.ops_url() == "http://127.0.0.1:8080"  # no stack: the default port

    write_state(ENDPOINTS, pid=os.getpid(), extra={"ops_url": "http://127.0.0.1:18080"})
    assert lag_cli.ops_url() == "http://127.0.0.1:18080"

    monkeypatch.setenv("FRONTDOOR_OPS_PORT", "9999")  # the environment still comes first
    assert lag_cli.ops_url() == "http://127.0.0.1:9999"
