"""The production compose stack, read as data: Kafka in KRaft mode, PostgreSQL, init, services.

No Docker engine runs these tests. They parse ``docker-compose.yml`` and the SASL override
``deploy/compose.sasl.yml`` with PyYAML and check the properties the deployment depends on: one
KRaft node and no ZooKeeper, one image for every service, health checks, start-up order behind
the one-shot ``init``, a persistent PostgreSQL, and a SASL_SSL/SCRAM override whose merged
Kafka configuration is consistent.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKERS = {"intake", "screening", "sla", "conferences", "outofhours", "deadletter", "workforce"}
HTTP_SERVICES = {"ops": 8080, "ingress": 8000}
LONG_RUNNING = WORKERS | set(HTTP_SERVICES)
INFRASTRUCTURE = {"kafka", "postgres"}


def _load(relative: str) -> dict[str, Any]:
    data = yaml.safe_load((REPO / relative).read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _load("docker-compose.yml")


@pytest.fixture(scope="module")
def sasl() -> dict[str, Any]:
    return _load("deploy/compose.sasl.yml")


def _merge(base: Any, override: Any) -> Any:
    """Compose's merge for the keys used here: mappings merge by key, anything else is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    return override


def _kafka_env(compose: dict[str, Any], sasl: dict[str, Any] | None = None) -> dict[str, str]:
    env = compose["services"]["kafka"]["environment"]
    if sasl is not None:
        env = _merge(env, sasl["services"]["kafka"]["environment"])
    return {key: str(value) for key, value in env.items()}


def _listener_names(spec: str) -> list[str]:
    return [entry.split("://", 1)[0] for entry in spec.split(",") if entry]


def test_compose_runs_exactly_the_infrastructure_init_and_every_service(
    compose: dict[str, Any],
) -> None:
    assert set(compose["services"]) == INFRASTRUCTURE | {"init"} | LONG_RUNNING


def test_kafka_runs_in_kraft_mode_without_zookeeper(compose: dict[str, Any]) -> None:
    env = _kafka_env(compose)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{env['KAFKA_NODE_ID']}@")
    assert env["CLUSTER_ID"]
    assert not any("ZOOKEEPER" in key for key in env)
    for name, service in compose["services"].items():
        assert "zookeeper" not in name
        assert "zookeeper" not in str(service.get("image", ""))


def test_kafka_image_is_apache_kafka_pinned_to_3_9_or_4(compose: dict[str, Any]) -> None:
    image = compose["services"]["kafka"]["image"]
    assert re.fullmatch(r"apache/kafka:(3\.9\.\d+|4\.\d+\.\d+)", image), image


def test_kafka_listeners_serve_the_compose_network_and_the_host(compose: dict[str, Any]) -> None:
    env = _kafka_env(compose)
    listeners = _listener_names(env["KAFKA_LISTENERS"])
    advertised = env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    protocols = dict(
        pair.split(":") for pair in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    assert set(listeners) <= set(protocols)
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in listeners
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in listeners
    assert any(entry.endswith("//kafka:9092") for entry in advertised)
    assert any(entry.endswith(":9094") for entry in advertised)
    # The controller is never advertised to clients.
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] not in _listener_names(",".join(advertised))
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_kafka_health_check_asks_the_broker_with_the_kafka_cli(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    test = " ".join(kafka["healthcheck"]["test"])
    assert "kafka-broker-api-versions.sh" in test or "kafka-topics.sh" in test
    assert any(volume.endswith(":/var/lib/kafka/data") for volume in kafka["volumes"])
    assert kafka["environment"]["KAFKA_LOG_DIRS"] == "/var/lib/kafka/data"


def test_plaintext_kafka_and_postgres_ports_default_to_loopback(compose: dict[str, Any]) -> None:
    for name in ("kafka", "postgres"):
        for port in compose["services"][name]["ports"]:
            host = port.rsplit(":", 2)[0]
            assert host.startswith(("127.0.0.1", "${KAFKA_EXTERNAL_BIND:-127.0.0.1}")), port


def test_every_frontdoor_container_runs_the_one_image_built_by_deploy_dockerfile(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    images = {
        (
            services[name]["image"],
            services[name]["build"]["context"],
            services[name]["build"]["dockerfile"],
        )
        for name in LONG_RUNNING | {"init"}
    }
    assert len(images) == 1
    ((_, context, dockerfile),) = images
    assert (REPO / context / dockerfile).resolve() == REPO / "deploy" / "Dockerfile"


@pytest.mark.parametrize("name", sorted(LONG_RUNNING))
def test_every_long_running_service_has_health_check_restart_policy_and_limits(
    compose: dict[str, Any], name: str
) -> None:
    service = compose["services"][name]
    assert service["healthcheck"]["test"] == ["CMD", "frontdoor-healthcheck"]
    assert not service["healthcheck"].get("disable", False)
    assert service["restart"] in {"unless-stopped", "always", "on-failure"}
    limits = service["deploy"]["resources"]["limits"]
    assert float(limits["cpus"]) > 0
    assert re.fullmatch(r"\d+[MG]", limits["memory"])


@pytest.mark.parametrize("name", sorted(LONG_RUNNING))
def test_services_start_only_after_init_completed_and_infrastructure_is_healthy(
    compose: dict[str, Any], name: str
) -> None:
    depends = compose["services"][name]["depends_on"]
    assert depends["init"]["condition"] == "service_completed_successfully"
    assert depends["kafka"]["condition"] == "service_healthy"
    assert depends["postgres"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", sorted(LONG_RUNNING))
def test_each_service_runs_its_own_worker_with_the_shared_wiring(
    compose: dict[str, Any], name: str
) -> None:
    service = compose["services"][name]
    assert service["command"] == ["worker", name]
    env = service["environment"]
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert "@postgres:5432/frontdoor" in env["DATABASE_URL"]
    assert env["FRONTDOOR_LOG_FORMAT"] == "json"


@pytest.mark.parametrize(("name", "port"), sorted(HTTP_SERVICES.items()))
def test_http_services_are_probed_on_the_port_they_publish(
    compose: dict[str, Any], name: str, port: int
) -> None:
    service = compose["services"][name]
    assert service["environment"]["FRONTDOOR_HEALTH_PORT"] == str(port)
    assert any(mapping.endswith(f":{port}") for mapping in service["ports"])


def test_init_runs_frontdoor_init_once_after_kafka_and_postgres_are_healthy(
    compose: dict[str, Any],
) -> None:
    init = compose["services"]["init"]
    assert init["command"] == ["init"]
    assert init["restart"] == "no"
    assert init["depends_on"] == {
        "kafka": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
    }


def test_postgres_16_has_a_readiness_check_and_a_named_volume(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]
    assert re.fullmatch(r"postgres:16(\.\d+)?(-[a-z]+)?", postgres["image"])
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    volume, target = postgres["volumes"][0].split(":")[:2]
    assert target == "/var/lib/postgresql/data"
    assert volume in compose["volumes"]
    assert "${POSTGRES_PASSWORD:?" in postgres["environment"]["POSTGRES_PASSWORD"]


def test_kafka_environment_values_never_contain_an_equals_sign(
    compose: dict[str, Any], sasl: dict[str, Any]
) -> None:
    # The apache/kafka image turns KAFKA_* variables into properties and silently drops any
    # value containing '=' (so JAAS config must come from a file, never the environment).
    for key, value in _kafka_env(compose, sasl).items():
        if key.startswith("KAFKA_") and key not in {"KAFKA_OPTS", "KAFKA_HEAP_OPTS"}:
            assert "=" not in value, key


def test_sasl_override_authenticates_every_client_listener_with_scram_over_tls(
    compose: dict[str, Any], sasl: dict[str, Any]
) -> None:
    env = _kafka_env(compose, sasl)
    protocols = dict(
        pair.split(":") for pair in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    listeners = _listener_names(env["KAFKA_LISTENERS"])
    assert set(listeners) <= set(protocols)
    assert all(protocol.startswith("SASL_") for protocol in protocols.values())
    for client_listener in ("INTERNAL", "EXTERNAL"):
        assert protocols[client_listener] == "SASL_SSL"
        key = f"KAFKA_LISTENER_NAME_{client_listener}_SASL_ENABLED_MECHANISMS"
        assert env[key] == "SCRAM-SHA-512"
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in listeners
    assert "java.security.auth.login.config=" in env["KAFKA_OPTS"]
    advertised = _listener_names(env["KAFKA_ADVERTISED_LISTENERS"])
    assert set(advertised) <= set(listeners) - {env["KAFKA_CONTROLLER_LISTENER_NAMES"]}


def test_sasl_override_denies_everything_no_acl_allows(
    compose: dict[str, Any], sasl: dict[str, Any]
) -> None:
    env = _kafka_env(compose, sasl)
    assert env["KAFKA_AUTHORIZER_CLASS_NAME"] == (
        "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    )
    assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    super_users = env["KAFKA_SUPER_USERS"]
    assert "User:admin" in super_users
    assert "ANONYMOUS" not in super_users
    assert "User:frontdoor" not in super_users


def test_sasl_override_switches_every_frontdoor_container_to_scram_after_acls_exist(
    compose: dict[str, Any], sasl: dict[str, Any]
) -> None:
    acls = sasl["services"]["kafka-acls"]
    assert acls["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert "acls.sh" in " ".join(acls["entrypoint"])
    for name in LONG_RUNNING | {"init"}:
        merged = _merge(compose["services"][name], sasl["services"][name])
        env = merged["environment"]
        assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL", name
        assert env["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512", name
        assert env["KAFKA_SASL_USERNAME"] == "frontdoor", name
        assert merged["depends_on"]["kafka-acls"]["condition"] == "service_completed_successfully"


def test_sasl_override_mounts_only_files_the_secrets_script_writes(sasl: dict[str, Any]) -> None:
    script = (REPO / "deploy/kafka/make-secrets.sh").read_text()
    kafka = sasl["services"]["kafka"]
    (secrets_mount,) = kafka["volumes"]
    host_dir, container_dir = secrets_mount.split(":")[:2]
    assert host_dir == "./deploy/kafka/secrets/broker"
    in_container = {
        value.removeprefix(container_dir + "/")
        for value in [
            *kafka["environment"].values(),
            kafka["environment"]["KAFKA_OPTS"].split("=")[-1],
        ]
        if str(value).startswith(container_dir + "/")
    }
    assert in_container == {"kafka.keystore.p12", "ca.crt", "kafka_server_jaas.conf"}
    for name in in_container:
        assert f"broker/{name}" in script or f'"$out/broker/{name}"' in script, name
    (env_file,) = kafka["env_file"]
    assert env_file["path"].removeprefix("./deploy/kafka/secrets/") in script
    for section in ("controller", "broker", "internal", "external"):
        assert f"{section}.KafkaServer" in script or f"plain_section {section}" in script


def test_broker_keystore_passwords_come_from_the_env_file_the_script_writes(
    sasl: dict[str, Any],
) -> None:
    script = (REPO / "deploy/kafka/make-secrets.sh").read_text()
    env = sasl["services"]["kafka"]["environment"]
    assert "KAFKA_SSL_KEYSTORE_PASSWORD" not in env
    assert "KAFKA_SSL_KEYSTORE_PASSWORD=%s" in script
    assert "KAFKA_SSL_KEY_PASSWORD=%s" in script
    # The image's own file-based keystore handling is keyed on a listener named "...SSL://".
    assert "SSL://" not in env["KAFKA_ADVERTISED_LISTENERS"]
