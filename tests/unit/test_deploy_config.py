"""The example configuration under deploy/config stays usable as the code and compose files move.

The local SLA policy example must load with the real policy loader over the default policy and
change only local-practice clocks. Every variable the compose files interpolate must be
documented in ``compose.env.example``, unless the compose file gives it a default or fails with a
message.
"""

from __future__ import annotations

import re
from pathlib import Path

from services.sla.policies import DEFAULT_POLICY, load_policy

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "deploy/config"
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Z][A-Z0-9_]*)(?P<rule>:?[-?][^}]*)?\}")


def test_local_policy_example_loads_over_the_default_policy_and_names_itself() -> None:
    local = load_policy(DEFAULT_POLICY, CONFIG / "policies/local.example.toml")
    shipped = load_policy(DEFAULT_POLICY)
    assert local.name != shipped.name
    changed = {key for key in shipped.timers if local.timers[key] != shipped.timers[key]}
    assert changed == {"core_group", "cp_visit"}


def test_local_policy_example_leaves_statutory_clocks_as_published() -> None:
    local = load_policy(DEFAULT_POLICY, CONFIG / "policies/local.example.toml")
    shipped = load_policy(DEFAULT_POLICY)
    for statutory in ("icpc", "first_core_group", "first_review", "review", "assessment"):
        assert local.timers[statutory] == shipped.timers[statutory]


def test_every_required_compose_variable_is_documented_in_the_env_example() -> None:
    example = (CONFIG / "compose.env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE))
    for compose_file in (REPO / "docker-compose.yml", REPO / "deploy/compose.sasl.yml"):
        for match in INTERPOLATION.finditer(compose_file.read_text()):
            rule = match.group("rule") or ""
            if rule.startswith((":-", "-")):
                continue  # has a default
            assert match.group("name") in documented, (compose_file.name, match.group("name"))


def test_compose_env_example_sets_no_real_password() -> None:
    example = (CONFIG / "compose.env.example").read_text()
    (password_line,) = [
        line for line in example.splitlines() if line.startswith("POSTGRES_PASSWORD")
    ]
    assert password_line == "POSTGRES_PASSWORD="
