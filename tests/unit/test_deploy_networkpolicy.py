"""The NetworkPolicies of deploy/k8s, read as data (issue 11 §3).

Every pod of the namespace is denied inbound connections by default; the ops pods admit only
the ingress controller's and the monitoring namespace's pods, on the port the ops Service
targets; partner ingress the same; no stream worker is admitted anything; every frontdoor
Deployment is selected by some policy.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.unit.test_deploy_k8s import K8S, _docs, _of_kind

INGRESS_CONTROLLER = {"kubernetes.io/metadata.name": "ingress-nginx"}
MONITORING = {"kubernetes.io/metadata.name": "monitoring"}


@pytest.fixture(scope="module")
def resources() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return [doc for name in kustomization["resources"] for doc in _docs(K8S / name)]


@pytest.fixture(scope="module")
def policies(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return _of_kind(resources, "NetworkPolicy")


@pytest.fixture(scope="module")
def deployments(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        doc["metadata"]["labels"]["app.kubernetes.io/component"]: doc
        for doc in _of_kind(resources, "Deployment").values()
    }


def _selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    wanted = policy["spec"]["podSelector"].get("matchLabels", {})
    return bool(wanted.items() <= labels.items())


def _pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


def test_every_pod_is_denied_inbound_by_default(policies: dict[str, dict[str, Any]]) -> None:
    deny = [p for p in policies.values() if p["spec"]["podSelector"] == {}]
    assert len(deny) == 1
    assert deny[0]["spec"]["policyTypes"] == ["Ingress"]
    assert not deny[0]["spec"].get("ingress")


@pytest.mark.parametrize("component", ["ops", "ingress"])
def test_http_services_admit_only_the_ingress_controller_and_monitoring(
    policies: dict[str, dict[str, Any]],
    deployments: dict[str, dict[str, Any]],
    component: str,
) -> None:
    labels = _pod_labels(deployments[component])
    (policy,) = [p for p in policies.values() if p["spec"]["podSelector"] and _selects(p, labels)]
    rules = policy["spec"]["ingress"]
    sources = [peer for rule in rules for peer in rule["from"]]
    assert all(set(peer) == {"namespaceSelector"} for peer in sources)  # no ipBlock, no pods
    assert [peer["namespaceSelector"]["matchLabels"] for peer in sources] == [
        INGRESS_CONTROLLER,
        MONITORING,
    ]
    declared = {
        port["name"]
        for port in deployments[component]["spec"]["template"]["spec"]["containers"][0]["ports"]
    }
    for rule in rules:
        assert {port["port"] for port in rule["ports"]} <= declared


def test_stream_workers_are_admitted_nothing(
    policies: dict[str, dict[str, Any]], deployments: dict[str, dict[str, Any]]
) -> None:
    for component, deployment in deployments.items():
        labels = _pod_labels(deployment)
        admitting = [
            p
            for p in policies.values()
            if p["spec"]["podSelector"] and _selects(p, labels) and p["spec"].get("ingress")
        ]
        if component in ("ops", "ingress"):
            assert len(admitting) == 1
        else:
            assert admitting == [], component
