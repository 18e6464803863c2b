"""deploy/kafka/make-secrets.sh, run for real in a temporary directory: every secret is written
0600 in 0700 directories (issue 11 §4), never readable by another user even while it is being
written, and a tree an older version left world-readable is tightened by a re-run."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy/kafka/make-secrets.sh"
AGENCIES = (
    "police",
    "health",
    "education",
    "probation",
    "housing",
    "social_care",
    "early_help",
    "ooh",
    "public",
    "other",
)
#: The CA certificate and its copies: public by nature, and mounted as a single file into the
#: frontdoor containers (another uid), so 0644. Everything else is a secret.
CERTIFICATES = {"ca/ca.crt", "broker/ca.crt", "services/ca.crt", "agencies/ca.crt"}

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")


@dataclass
class Run:
    out: Path
    done: subprocess.CompletedProcess[str]
    openssl_log: Path


def run_script(tmp: Path, *args: str, out: Path | None = None) -> Run:
    """The script with FRONTDOOR_KAFKA_SECRETS in ``tmp``, and ``openssl`` behind a shim that,
    before each call, records every path under the tree that another user could read."""
    out = out or tmp / "secrets"
    shim_dir = tmp / "bin"
    shim_dir.mkdir(exist_ok=True)
    log = tmp / "exposed.log"
    real = shutil.which("openssl")
    assert real is not None
    shim = shim_dir / "openssl"
    shim.write_text(
        "#!/usr/bin/env bash\n"
        f'if [[ -d "{out}" ]]; then find "{out}" -perm /077 ! -name ca.crt '
        f"-printf '%m %P\\n' >>\"{log}\"; fi\n"
        f'exec "{real}" "$@"\n'
    )
    shim.chmod(0o755)
    env = {**os.environ, "FRONTDOOR_KAFKA_SECRETS": str(out)}
    env["PATH"] = f"{shim_dir}{os.pathsep}{env['PATH']}"
    done = subprocess.run(
        ["bash", str(SCRIPT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Run(out, done, log)


def modes(root: Path) -> dict[str, int]:
    """Every path under ``root`` (and ``root`` itself as ".") with its permission bits."""
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[path.relative_to(root).as_posix()] = stat.S_IMODE(path.stat().st_mode)
    return found


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return run_script(tmp_path_factory.mktemp("make-secrets"))


def test_every_secret_is_0600_and_every_directory_0700(first: Run) -> None:
    assert first.done.returncode == 0, first.done.stderr
    found = modes(first.out)
    directories = {p for p in found if p == "." or (first.out / p).is_dir()}
    assert directories == {".", "ca", "broker", "services", "agencies"}
    assert {p: oct(m) for p, m in found.items() if p in directories and m != 0o700} == {}
    files = set(found) - directories
    secrets = files - CERTIFICATES
    assert {p: oct(m) for p, m in found.items() if p in secrets and m != 0o600} == {}
    assert {p: oct(found[p]) for p in CERTIFICATES} == dict.fromkeys(CERTIFICATES, "0o644")
    # the secrets this is about are really there
    assert {
        "ca/ca.key",
        "broker/kafka.keystore.p12",
        "broker/kafka-ssl.env",
        "broker/kafka_server_jaas.conf",
        "broker/admin.properties",
        "broker/admin.password",
        "services/frontdoor.password",
        "services/frontdoor-sasl.env",
        *(f"agencies/{a}.password" for a in AGENCIES),
        *(f"agencies/{a}.client.properties" for a in AGENCIES),
    } <= secrets
    password = (first.out / "agencies/police.password").read_text().strip()
    assert re.fullmatch("[0-9a-f]{64}", password)


def test_no_secret_is_readable_by_another_user_even_while_it_is_written(first: Run) -> None:
    # the shim looked before every openssl call (one per password, key and certificate)
    assert first.openssl_log.exists()
    assert first.openssl_log.read_text() == ""


def test_a_world_readable_tree_from_an_older_version_is_tightened_and_kept(
    tmp_path: Path, first: Run
) -> None:
    out = tmp_path / "secrets"
    shutil.copytree(first.out, out)
    for path in [out, *out.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    before = (out / "agencies/health.password").read_text()

    run = run_script(tmp_path, out=out)

    assert run.done.returncode == 0, run.done.stderr
    assert "new password" not in run.done.stdout  # existing passwords are kept
    assert (out / "agencies/health.password").read_text() == before
    found = modes(out)
    assert {p for p, m in found.items() if m & 0o077 and p not in CERTIFICATES} == set()
    assert found["agencies/health.password"] == 0o600
    assert found["."] == 0o700


def test_a_rotated_password_is_new_and_0600(tmp_path: Path, first: Run) -> None:
    out = tmp_path / "secrets"
    shutil.copytree(first.out, out)
    old = (out / "agencies/police.password").read_text()
    kept = (out / "agencies/health.password").read_text()

    run = run_script(tmp_path, "--rotate", "police", out=out)

    assert run.done.returncode == 0, run.done.stderr
    assert "new password for police" in run.done.stdout
    assert (out / "agencies/police.password").read_text() != old
    assert (out / "agencies/health.password").read_text() == kept
    assert modes(out)["agencies/police.password"] == 0o600
    assert modes(out)["agencies/police.client.properties"] == 0o600


def test_owner_hands_the_tree_to_the_given_uid(tmp_path: Path) -> None:
    me = f"{os.getuid()}:{os.getgid()}"  # chown to oneself needs no privilege
    run = run_script(tmp_path, "--owner", me)
    assert run.done.returncode == 0, run.done.stderr
    assert {p.stat().st_uid for p in run.out.rglob("*")} == {os.getuid()}


@pytest.mark.parametrize("args", [["--owner", "kafka"], ["--days", "ten"], ["--bogus"]])
def test_a_bad_option_is_one_line_and_exit_2_and_writes_nothing(
    tmp_path: Path, args: list[str]
) -> None:
    run = run_script(tmp_path, *args)
    assert run.done.returncode == 2
    assert run.done.stderr.count("\n") == 1
    assert run.done.stderr.startswith("make-secrets.sh: ")
    assert not run.out.exists()
