"""What ``frontdoor dev`` prints when ready, and the addresses its state file records."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.cli.banner import banner
from services.cli.listeners import FixedPort
from services.common.settings import Endpoints, stack_url, write_state

OPS = FixedPort("ops dashboard", "127.0.0.1", 18080, "FRONTDOOR_OPS_PORT")
INGRESS = FixedPort("partner ingress", "0.0.0.0", 18000, "FRONTDOOR_INGRESS_PORT")
ENDPOINTS = Endpoints("127.0.0.1:19092", "postgresql://frontdoor:s3cret@db.example:5432/fd")


def test_the_banner_gives_every_address_one_per_line(tmp_path: Path) -> None:
    text = banner(ENDPOINTS, {"ops": OPS, "ingress": INGRESS}, tmp_path)
    lines = text.splitlines()

    for label, value in [
        ("ops dashboard", "http://127.0.0.1:18080/"),
        ("ops API docs", "http://127.0.0.1:18080/docs"),
        ("partner API", "http://127.0.0.1:18000/"),
        ("partner API docs", "http://127.0.0.1:18000/docs"),
        ("broker", "127.0.0.1:19092"),
        ("logs", f"{tmp_path / 'logs'}/"),
        ("state file", str(tmp_path / "state.json")),
    ]:
        assert any(line.split() == [*label.split(), value] for line in lines), (label, text)
    assert "ops_key" in text
    assert "frontdoor agencies add police" in text


def test_the_banner_never_prints_the_database_password(tmp_path: Path) -> None:
    text = banner(ENDPOINTS, {}, tmp_path)
    assert "s3cret" not in text
    assert "postgresql://frontdoor:***@db.example:5432/fd" in text


def test_a_web_service_on_any_free_port_points_to_its_log(tmp_path: Path) -> None:
    anywhere = FixedPort("ops dashboard", "127.0.0.1", 0, "FRONTDOOR_OPS_PORT")
    text = banner(ENDPOINTS, {"ops": anywhere}, tmp_path)
    assert "FRONTDOOR_OPS_PORT=0" in text
    assert "http://127.0.0.1:0" not in text


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8080"),
        ("0.0.0.0", "http://127.0.0.1:8080"),
        ("::", "http://[::1]:8080"),
        ("fd00::5", "http://[fd00::5]:8080"),
        ("ops.internal", "http://ops.internal:8080"),
    ],
)
def test_a_fixed_port_is_reached_where_a_browser_on_this_machine_can(host: str, url: str) -> None:
    assert FixedPort("ops dashboard", host, 8080, "FRONTDOOR_OPS_PORT").url == url


def test_the_state_file_gives_a_web_service_address_only_for_a_live_stack(
    tmp_path: Path,
) -> None:
    assert stack_url("ops", tmp_path) is None  # no stack at all
    extra = {"ops_url": "http://127.0.0.1:18080/", "ingress_url": "http://127.0.0.1:18000"}
    write_state(ENDPOINTS, pid=os.getpid(), data_dir=tmp_path, extra=extra)
    assert stack_url("ops", tmp_path) == "http://127.0.0.1:18080"
    assert stack_url("ingress", tmp_path) == "http://127.0.0.1:18000"
    assert stack_url("nosuch", tmp_path) is None

    gone = 2**22 + 1  # above the kernel's pid_max: no such process
    write_state(ENDPOINTS, pid=gone, data_dir=tmp_path, extra=extra)
    assert stack_url("ops", tmp_path) is None  # a dead supervisor's addresses are not used
