"""The container image, read as text: deploy/Dockerfile, the root .dockerignore, the probe script.

The Dockerfile must build in two stages from python:3.11-slim, install the project with its
constraints, run as a non-root numeric uid shared with the Kubernetes manifests, and start
``frontdoor``. The health probe's target resolution is a pure function and is tested directly.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs of deploy/Dockerfile, continuation lines joined."""
    text = (REPO / "deploy/Dockerfile").read_text()
    logical = re.sub(r"\\\n", " ", text)
    pairs = []
    for line in logical.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            word, _, rest = stripped.partition(" ")
            pairs.append((word.upper(), rest.strip()))
    return pairs


def _probe_module() -> ModuleType:
    """deploy/healthcheck.py is a script, not a package module: load it by path (once)."""
    name = "frontdoor_healthcheck"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "deploy/healthcheck.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def test_dockerfile_builds_in_two_stages_from_python_3_11_slim() -> None:
    instructions = _instructions()
    args = dict(rest.split("=", 1) for word, rest in instructions if word == "ARG" and "=" in rest)
    stages = [rest for word, rest in instructions if word == "FROM"]
    assert len(stages) >= 2
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", args["PYTHON_IMAGE"])
    assert all(stage.startswith("${PYTHON_IMAGE}") for stage in stages)
    copies_from_build = [
        rest for word, rest in instructions if word == "COPY" and "--from=build" in rest
    ]
    assert copies_from_build


def test_dockerfile_installs_the_project_with_its_constraints() -> None:
    runs = " ".join(rest for word, rest in _instructions() if word == "RUN")
    assert "pip install -c constraints.txt ." in runs


def test_image_runs_as_the_non_root_uid_the_kubernetes_manifests_expect() -> None:
    instructions = _instructions()
    args = dict(rest.split("=", 1) for word, rest in instructions if word == "ARG" and "=" in rest)
    user = [rest for word, rest in instructions if word == "USER"][-1]
    uid = user.replace("${FRONTDOOR_UID}", args["FRONTDOOR_UID"]).split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0
    k8s = REPO / "deploy/k8s"
    for manifest in ("patches/pod-defaults.yaml", "job-init.yaml"):
        doc = yaml.safe_load((k8s / manifest).read_text())
        assert doc["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == int(uid)


def test_image_starts_frontdoor_and_declares_a_health_check() -> None:
    instructions = _instructions()
    entrypoint = [rest for word, rest in instructions if word == "ENTRYPOINT"][-1]
    assert json.loads(entrypoint) == ["frontdoor"]
    healthcheck = [rest for word, rest in instructions if word == "HEALTHCHECK"][-1]
    assert "frontdoor-healthcheck" in healthcheck
    copies = [rest for word, rest in instructions if word == "COPY"]
    assert any(
        "deploy/healthcheck.py /usr/local/bin/frontdoor-healthcheck" in rest for rest in copies
    )


def test_dockerignore_keeps_local_state_out_and_build_inputs_in() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for excluded in (".git", ".venv", ".frontdoor"):
        assert excluded in patterns
    for needed in ("pyproject.toml", "constraints.txt", "README.md", "schemas", "services"):
        assert needed not in patterns
    assert patterns.index("!deploy/healthcheck.py") > patterns.index("deploy/*")


def test_health_probe_defaults_to_the_faust_web_port_and_healthz() -> None:
    probe = _probe_module()
    target = probe.target_from({}, [])
    assert (target.port, target.path) == (6066, "/healthz")


def test_health_probe_takes_port_from_environment_and_argument_over_environment() -> None:
    probe = _probe_module()
    assert probe.target_from({"FRONTDOOR_HEALTH_PORT": "8080"}, []).port == 8080
    assert probe.target_from({"FRONTDOOR_HEALTH_PORT": "8080"}, ["8000"]).port == 8000
    assert probe.target_from({"FRONTDOOR_HEALTH_PATH": "/ready"}, []).path == "/ready"


@pytest.mark.parametrize(
    ("env", "argv"),
    [
        ({"FRONTDOOR_HEALTH_PORT": "0"}, []),
        ({}, ["70000"]),
        ({"FRONTDOOR_HEALTH_PATH": "healthz"}, []),
    ],
)
def test_health_probe_rejects_impossible_targets(env: dict[str, str], argv: list[str]) -> None:
    probe = _probe_module()
    with pytest.raises(ValueError, match="health"):
        probe.target_from(env, argv)


def test_health_probe_exits_2_on_a_bad_configuration() -> None:
    probe = _probe_module()
    assert probe.main(["not-a-port"]) == 2
