"""The Prometheus alert rules shipped in deploy/prometheus, read against the real ``/metrics``.

Every rule has an expression, a ``for``, a severity and the annotations a person on call reads;
the four alerts issue 14 asks for are there (stalled consumer group, lag seconds over a bound,
dead letters rising, breach announced late); every metric an expression names is one the ops
service's ``/metrics`` really emits — rendered here by the real app and metrics module over fake
ports, not listed by hand — with the labels the rule groups by; and the prometheus-operator
example in deploy/k8s carries the very same rules. With ``promtool`` on the PATH (Debian's
``prometheus`` package), ``promtool check rules`` and the rule unit tests in
``frontdoor-alerts.test.yml`` run too.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.unit.test_ops_api import build, serving

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy/prometheus/frontdoor-alerts.yml"
RULE_TESTS = REPO / "deploy/prometheus/frontdoor-alerts.test.yml"
OPERATOR_EXAMPLE = REPO / "deploy/k8s/prometheusrule.example.yaml"

PROMQL_WORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "bool", "offset",
}  # fmt: skip
REQUIRED = {
    "FrontdoorConsumerGroupStalled",
    "FrontdoorConsumerLagSecondsHigh",
    "FrontdoorDeadLettersRising",
    "FrontdoorSlaBreachAnnouncedLate",
}


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads: identifiers that are not functions, keywords,
    label names (inside braces or after by/without) or durations."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors
    text = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", text)  # label lists
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        following = text[m.end() :].lstrip()
        if following.startswith("(") or m.group() in PROMQL_WORDS:
            continue
        names.add(m.group())
    return names


def grouping_labels(expr: str) -> set[str]:
    return {
        label.strip()
        for found in re.findall(r"\bby\s*\(([^)]*)\)", expr)
        for label in found.split(",")
        if label.strip()
    }


async def emitted() -> dict[str, set[str]]:
    """Sample name → label names, from the real app's ``/metrics`` after three polls and a
    board refresh (every family it has is present then)."""
    async with serving(build(polls=3, refresh=True)) as client:
        text = (await client.get("/metrics")).text
    found: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, set()).update(sample.labels)
    return found


def test_every_rule_has_an_expression_a_for_a_severity_and_annotations() -> None:
    found = rules()
    assert {r["alert"] for r in found} >= REQUIRED
    assert len({r["alert"] for r in found}) == len(found)  # no name twice
    for rule in found:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["expr"].strip(), rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert rule["annotations"]["description"].strip(), rule["alert"]


def test_the_metric_name_reader_sees_through_functions_labels_and_ranges() -> None:
    expr = (
        'sum by (consumergroup) (kafka_consumergroup_lag{topic="a b"} > 0) > 0 and '
        "sum by (consumergroup) (changes(kafka_consumergroup_current_offset[10m])) == 0"
    )
    assert metric_names(expr) == {"kafka_consumergroup_lag", "kafka_consumergroup_current_offset"}
    assert grouping_labels(expr) == {"consumergroup"}


async def test_every_metric_an_alert_reads_is_one_metrics_emits_with_the_labels_it_groups_by() -> (
    None
):
    series = await emitted()
    assert "kafka_consumergroup_lag" in series  # the rendering is the full one
    read = set()
    for rule in rules():
        names = metric_names(rule["expr"])
        assert names, rule["alert"]
        read |= names
        for name in names:
            assert name in series, (rule["alert"], name, sorted(series))
            assert grouping_labels(rule["expr"]) <= series[name], (rule["alert"], name)
    assert {
        "frontdoor_consumergroup_status",
        "kafka_consumergroup_max_lag_seconds",
        "frontdoor_deadletter_total",
        "frontdoor_sla_breach_announce_delay_seconds",
    } <= read
    assert "consumergroup" in series["kafka_consumergroup_lag"]  # kafka_exporter's label name
    assert "group" not in series["kafka_consumergroup_lag"]


def test_the_operator_example_carries_exactly_the_shipped_rules() -> None:
    example = yaml.safe_load(OPERATOR_EXAMPLE.read_text())
    assert (example["apiVersion"], example["kind"]) == (
        "monitoring.coreos.com/v1",
        "PrometheusRule",
    )
    assert example["spec"]["groups"] == yaml.safe_load(RULES.read_text())["groups"]
    readme = (REPO / "deploy/README.md").read_text()
    assert "deploy/prometheus/frontdoor-alerts.yml" in readme
    assert "prometheusrule.example.yaml" in readme


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus)")
    return found


def test_promtool_accepts_the_rules() -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_the_rules_fire_on_the_series_of_their_unit_tests() -> None:
    result = subprocess.run(
        [promtool(), "test", "rules", RULE_TESTS.name],
        capture_output=True,
        text=True,
        check=False,
        cwd=RULE_TESTS.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
