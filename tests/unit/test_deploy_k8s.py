"""The Kubernetes manifests, read as data: what deploy/k8s/kustomization.yaml would apply.

Every file the kustomization names must exist and parse. The Deployments must be exactly the
services of docker-compose.yml, each with startup/readiness/liveness probes on a port it
declares and with resource requests and limits. Stream workers get PodDisruptionBudgets and never
more replicas than their input topic has partitions. The shared pod patch must reach every
Deployment and reference only ConfigMaps/Secrets that are defined.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy/k8s"
# Input topic partitions (DESIGN.md topics, as `frontdoor init` creates them).
INPUT_PARTITIONS = {
    "intake": 8,  # partner.events
    "screening": 8,  # frontdoor.contacts
    "conferences": 8,  # frontdoor.casework
    "sla": 8,  # the lifecycle topics it consumes (frontdoor.contacts / .casework / .conferences)
    "outofhours": 4,  # frontdoor.crisis
    "deadletter": 4,  # frontdoor.deadletter
    "workforce": 8,  # frontdoor.workforce (and frontdoor.casework)
}
STREAM_WORKERS = set(INPUT_PARTITIONS)


def _docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


@pytest.fixture(scope="module")
def kustomization() -> dict[str, Any]:
    data = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def resources(kustomization: dict[str, Any]) -> list[dict[str, Any]]:
    return [doc for name in kustomization["resources"] for doc in _docs(K8S / name)]


def _of_kind(resources: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in resources if doc["kind"] == kind}


@pytest.fixture(scope="module")
def deployments(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    by_name = _of_kind(resources, "Deployment")
    return {
        doc["metadata"]["labels"]["app.kubernetes.io/component"]: doc for doc in by_name.values()
    }


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def test_every_file_the_kustomization_names_exists_and_is_a_named_kubernetes_object(
    kustomization: dict[str, Any],
) -> None:
    paths = [*kustomization["resources"], *(p["path"] for p in kustomization["patches"])]
    for name in paths:
        docs = _docs(K8S / name)
        assert docs, name
        for doc in docs:
            assert {"apiVersion", "kind", "metadata"} <= set(doc), name
            assert doc["metadata"]["name"], name


def test_the_example_secret_is_never_applied(kustomization: dict[str, Any]) -> None:
    assert "secret.example.yaml" not in kustomization["resources"]
    assert (K8S / "secret.example.yaml").exists()


def test_deployments_are_exactly_the_compose_services(
    deployments: dict[str, dict[str, Any]],
) -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    compose_services = {
        name
        for name, svc in compose["services"].items()
        if svc.get("command", [None])[0] == "worker"
    }
    assert set(deployments) == compose_services


def test_one_image_runs_every_deployment_and_the_init_job(
    kustomization: dict[str, Any], resources: list[dict[str, Any]]
) -> None:
    (image,) = kustomization["images"]
    workloads = [doc for doc in resources if doc["kind"] in {"Deployment", "Job"}]
    assert {_container(doc)["image"] for doc in workloads} == {image["name"]}


@pytest.mark.parametrize("component", sorted(STREAM_WORKERS | {"ops", "ingress"}))
def test_each_deployment_runs_its_worker_with_probes_on_a_declared_port(
    deployments: dict[str, dict[str, Any]], component: str
) -> None:
    deployment = deployments[component]
    container = _container(deployment)
    assert container["name"] == "frontdoor"
    assert container["args"] == ["worker", component]
    declared = {port["name"]: port["containerPort"] for port in container["ports"]}
    env = {item["name"]: item.get("value") for item in container["env"]}  # or valueFrom
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        http = container[probe]["httpGet"]
        assert http["path"] == "/healthz"
        assert http["port"] in declared
        assert str(declared[http["port"]]) == env["FRONTDOOR_HEALTH_PORT"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


@pytest.mark.parametrize("component", sorted(STREAM_WORKERS | {"ops", "ingress"}))
def test_each_deployment_requests_and_limits_cpu_and_memory(
    deployments: dict[str, dict[str, Any]], component: str
) -> None:
    resources = _container(deployments[component])["resources"]
    for section in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources[section]), section


@pytest.mark.parametrize("component", sorted(STREAM_WORKERS))
def test_stream_workers_never_get_more_replicas_than_input_partitions(
    deployments: dict[str, dict[str, Any]], resources: list[dict[str, Any]], component: str
) -> None:
    assert deployments[component]["spec"]["replicas"] <= INPUT_PARTITIONS[component]
    name = deployments[component]["metadata"]["name"]
    for hpa in _of_kind(resources, "HorizontalPodAutoscaler").values():
        if hpa["spec"]["scaleTargetRef"]["name"] == name:
            assert hpa["spec"]["maxReplicas"] <= INPUT_PARTITIONS[component]


def test_every_autoscaler_targets_an_existing_deployment(
    deployments: dict[str, dict[str, Any]], resources: list[dict[str, Any]]
) -> None:
    names = {doc["metadata"]["name"] for doc in deployments.values()}
    for hpa in _of_kind(resources, "HorizontalPodAutoscaler").values():
        assert hpa["spec"]["scaleTargetRef"]["name"] in names
        assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


@pytest.mark.parametrize("component", sorted(STREAM_WORKERS))
def test_stream_workers_have_a_disruption_budget_selecting_their_pods(
    deployments: dict[str, dict[str, Any]], resources: list[dict[str, Any]], component: str
) -> None:
    labels = deployments[component]["spec"]["template"]["metadata"]["labels"]
    budgets = [
        pdb
        for pdb in _of_kind(resources, "PodDisruptionBudget").values()
        if pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    ]
    assert len(budgets) == 1
    assert budgets[0]["spec"].get("maxUnavailable") == 1


@pytest.mark.parametrize("component", ["ops", "ingress"])
def test_http_services_are_reachable_through_a_service_on_a_named_port(
    deployments: dict[str, dict[str, Any]], resources: list[dict[str, Any]], component: str
) -> None:
    labels = deployments[component]["spec"]["template"]["metadata"]["labels"]
    declared = {port["name"] for port in _container(deployments[component])["ports"]}
    services = [
        svc
        for svc in _of_kind(resources, "Service").values()
        if svc["spec"]["selector"].items() <= labels.items()
    ]
    assert len(services) == 1
    assert {port["targetPort"] for port in services[0]["spec"]["ports"]} <= declared


def test_the_init_job_runs_frontdoor_init_once(resources: list[dict[str, Any]]) -> None:
    (job,) = _of_kind(resources, "Job").values()
    assert _container(job)["args"] == ["init"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] >= 1


def test_the_pod_defaults_patch_reaches_every_deployment_and_hardens_it(
    kustomization: dict[str, Any], deployments: dict[str, dict[str, Any]]
) -> None:
    (patch_entry,) = kustomization["patches"]
    assert patch_entry["target"]["kind"] == "Deployment"
    key, value = patch_entry["target"]["labelSelector"].split("=")
    for deployment in deployments.values():
        assert deployment["metadata"]["labels"][key] == value
    (patch,) = _docs(K8S / patch_entry["path"])
    pod = patch["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["name"] == "frontdoor"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    volumes = {volume["name"] for volume in pod["volumes"]}
    assert {mount["name"] for mount in container["volumeMounts"]} <= volumes


def test_workloads_reference_only_configmaps_and_secrets_that_are_defined(
    kustomization: dict[str, Any], resources: list[dict[str, Any]]
) -> None:
    configmaps = set(_of_kind(resources, "ConfigMap"))
    secrets = {doc["metadata"]["name"] for doc in _docs(K8S / "secret.example.yaml")}
    patch = _docs(K8S / kustomization["patches"][0]["path"])[0]
    (job,) = _of_kind(resources, "Job").values()
    for pod in (patch["spec"]["template"]["spec"], job["spec"]["template"]["spec"]):
        for source in _container({"spec": {"template": {"spec": pod}}})["envFrom"]:
            if "configMapRef" in source:
                assert source["configMapRef"]["name"] in configmaps
            else:
                assert source["secretRef"]["name"] in secrets
        for volume in pod["volumes"]:
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secrets
            if "configMap" in volume:
                assert volume["configMap"]["name"] in configmaps or volume["configMap"]["optional"]


def test_every_configmap_setting_is_documented_in_the_env_example(
    resources: list[dict[str, Any]],
) -> None:
    example = (REPO / "deploy/config/frontdoor.env.example").read_text()
    for configmap in _of_kind(resources, "ConfigMap").values():
        for key in configmap["data"]:
            assert f"{key}=" in example, key
