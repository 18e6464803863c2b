"""The Kafka ACL script, read from what it would run: each agency stays in its own lane.

``deploy/kafka/acls.sh --dry-run`` prints every ``kafka-configs.sh`` / ``kafka-acls.sh`` command
it would run (passwords redacted) without touching a broker. These tests parse those lines into
grants and check the matrix of deploy/kafka/README.md: one SCRAM-SHA-512 user per agency, WRITE
only on ``partner.events`` (or its own ``partner.events.<agency>`` in per-agency mode), READ only
on its own ``agency.<agency>.inbox`` and its own group prefix, and nothing for anyone on ``*``.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy/kafka/acls.sh"
AGENCIES = (
    "police", "health", "education", "probation", "housing",
    "social_care", "early_help", "ooh", "public", "other",
)  # fmt: skip


@dataclass(frozen=True)
class Grant:
    """One ALLOW: principal may do operation on resource_type:name under pattern."""

    principal: str
    operation: str
    resource_type: str
    name: str
    pattern: str


@dataclass(frozen=True)
class Plan:
    scram_users: dict[str, str]  # user -> mechanism
    grants: frozenset[Grant]

    def of(self, principal: str) -> set[Grant]:
        return {g for g in self.grants if g.principal == principal}


def _values(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == flag]


def _parse(output: str) -> Plan:
    users: dict[str, str] = {}
    grants: set[Grant] = set()
    for line in output.splitlines():
        argv = shlex.split(line)
        tool = Path(argv[0]).name
        if tool == "kafka-configs.sh":
            assert _values(argv, "--entity-type") == ["users"]
            (config,) = _values(argv, "--add-config")
            users[_values(argv, "--entity-name")[0]] = config.split("=", 1)[0]
            continue
        assert tool == "kafka-acls.sh", line
        assert "--add" in argv
        assert "--deny-principal" not in argv
        (principal,) = _values(argv, "--allow-principal")
        if "--cluster" in argv:
            resources = [("cluster", "kafka-cluster")]
        else:
            resources = [("topic", n) for n in _values(argv, "--topic")]
            resources += [("group", n) for n in _values(argv, "--group")]
        (pattern,) = _values(argv, "--resource-pattern-type") or ["literal"]
        for operation in _values(argv, "--operation"):
            for resource_type, name in resources:
                grants.add(Grant(principal, operation, resource_type, name, pattern))
    return Plan(users, frozenset(grants))


def _dry_run(*args: str) -> Plan:
    result = subprocess.run(
        ["bash", str(SCRIPT), "--dry-run", *args], capture_output=True, text=True, check=True
    )
    return _parse(result.stdout)


@pytest.fixture(scope="module")
def shared() -> Plan:
    return _dry_run("--mode", "shared")


@pytest.fixture(scope="module")
def per_agency() -> Plan:
    return _dry_run()  # the default: what intake's default (lanes) expects


def test_the_default_mode_is_per_agency_on_the_lanes_the_contract_declares() -> None:
    from schemas.topics import PARTNER_LANES

    explicit = _dry_run("--mode", "per-agency")
    assert _dry_run().grants == explicit.grants
    written = {
        g.name
        for g in explicit.grants
        if g.operation == "Write" and g.principal != "User:frontdoor"
    }
    assert written == {t.name for t in PARTNER_LANES.values()}


def test_every_agency_and_the_services_get_a_scram_sha_512_user(shared: Plan) -> None:
    assert shared.scram_users == dict.fromkeys((*AGENCIES, "frontdoor"), "SCRAM-SHA-512")


@pytest.mark.parametrize("agency", AGENCIES)
def test_an_agency_may_write_only_to_partner_events(shared: Plan, agency: str) -> None:
    writes = {g for g in shared.of(f"User:{agency}") if g.operation == "Write"}
    assert writes == {Grant(f"User:{agency}", "Write", "topic", "partner.events", "literal")}


@pytest.mark.parametrize("agency", AGENCIES)
def test_an_agency_reads_only_its_own_inbox_with_its_own_groups(shared: Plan, agency: str) -> None:
    principal = f"User:{agency}"
    assert shared.of(principal) == {
        Grant(principal, "Write", "topic", "partner.events", "literal"),
        Grant(principal, "Read", "topic", f"agency.{agency}.inbox", "literal"),
        Grant(principal, "Read", "group", f"agency.{agency}.", "prefixed"),
    }


def test_no_agency_can_read_another_agencys_inbox(shared: Plan) -> None:
    for reader in AGENCIES:
        readable = {
            g.name
            for g in shared.of(f"User:{reader}")
            if g.resource_type == "topic" and g.operation == "Read"
        }
        assert readable == {f"agency.{reader}.inbox"}
        assert all(f"agency.{other}.inbox" not in readable for other in AGENCIES if other != reader)


@pytest.mark.parametrize("agency", AGENCIES)
def test_per_agency_mode_confines_each_agencys_writes_to_its_own_topic(
    per_agency: Plan, agency: str
) -> None:
    writes = {
        (g.name, g.pattern) for g in per_agency.of(f"User:{agency}") if g.operation == "Write"
    }
    assert writes == {(f"partner.events.{agency}", "literal")}


def test_per_agency_mode_lets_the_services_read_every_agency_topic(per_agency: Plan) -> None:
    for operation in ("Read", "Write", "Create"):
        grant = Grant("User:frontdoor", operation, "topic", "partner.events.", "prefixed")
        assert grant in per_agency.grants


def test_the_services_get_what_the_pipeline_needs_on_their_own_prefixes(shared: Plan) -> None:
    grants = shared.of("User:frontdoor")
    for operation in ("Read", "Write", "Create"):
        assert Grant("User:frontdoor", operation, "topic", "frontdoor", "prefixed") in grants
        assert Grant("User:frontdoor", operation, "topic", "partner.events", "literal") in grants
    assert Grant("User:frontdoor", "Write", "topic", "agency.", "prefixed") in grants
    assert Grant("User:frontdoor", "Read", "group", "frontdoor", "prefixed") in grants
    # The services publish to the agencies' inboxes but never consume them as an agency would.
    assert Grant("User:frontdoor", "Read", "topic", "agency.", "prefixed") not in grants


def test_nobody_is_granted_wildcards_or_all_operations(shared: Plan, per_agency: Plan) -> None:
    for grant in shared.grants | per_agency.grants:
        assert grant.name != "*"
        assert grant.operation != "All"
        assert grant.principal != "User:*"


def test_dry_run_never_prints_a_password(tmp_path: Path) -> None:
    secret = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"
    (tmp_path / "services").mkdir()
    (tmp_path / "agencies").mkdir()
    (tmp_path / "services/frontdoor.password").write_text(secret + "\n")
    (tmp_path / "agencies/police.password").write_text(secret + "\n")
    result = subprocess.run(
        ["bash", str(SCRIPT), "--dry-run", "--secrets-dir", str(tmp_path), "--agency", "police"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert secret not in result.stdout + result.stderr
    assert "password=<redacted>" in result.stdout


@pytest.mark.parametrize("agency", ["Police", "police;rm", "agency.police", ""])
def test_invalid_agency_codes_are_refused(agency: str) -> None:
    result = subprocess.run(
        ["bash", str(SCRIPT), "--dry-run", "--agency", agency],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
