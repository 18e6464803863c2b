"""The published contract files and the topic contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas import export
from schemas.envelope import Agency
from schemas.registry import EVENT_MODELS, INBOUND_TYPES, OUTBOUND_TYPES, latest_version
from schemas.topics import (
    ALL_TOPICS,
    CASEWORK,
    CONTACTS,
    DEADLETTER,
    PARTNER_EVENTS,
    WORKFORCE,
    agency_inbox,
)


def test_exported_files_are_not_stale() -> None:
    stale = export.stale_files()
    assert stale == [], f"run `python -m schemas.export`; stale: {stale}"


def test_check_command_passes_on_the_committed_files() -> None:
    assert export.main(["--check"]) == 0


def test_check_names_changed_and_obsolete_files(tmp_path: Path) -> None:
    written = export.write_files(tmp_path)
    assert len(written) == len(EVENT_MODELS) + 1
    assert export.stale_files(tmp_path) == []
    changed = tmp_path / "json" / "case.closed.v1.json"
    changed.write_text("{}\n", encoding="utf-8")
    obsolete = tmp_path / "json" / "case.reopened.v1.json"
    obsolete.write_text("{}\n", encoding="utf-8")
    assert export.stale_files(tmp_path) == sorted([changed, obsolete])
    assert export.write_files(tmp_path) == sorted([changed, obsolete])
    assert not obsolete.exists()
    assert export.stale_files(tmp_path) == []


def test_export_is_deterministic(tmp_path: Path) -> None:
    first = export.expected_files(tmp_path)
    second = export.expected_files(tmp_path)
    assert first == second
    assert all(text.endswith("}\n") for text in first.values())


def test_every_event_type_has_a_json_schema_file_for_its_latest_version() -> None:
    json_dir = export.PACKAGE_DIR / "json"
    for event_type in INBOUND_TYPES | OUTBOUND_TYPES:
        name = export.schema_file_name(event_type, latest_version(event_type))
        schema = json.loads((json_dir / name).read_text(encoding="utf-8"))
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"].endswith("/" + name)
        assert schema["title"] == f"{event_type} v{latest_version(event_type)}"
        assert schema["description"]
        assert schema["additionalProperties"] is False
        assert schema["properties"]["event_type"]["const"] == event_type


def asyncapi() -> dict[str, object]:
    text = (export.PACKAGE_DIR / "asyncapi.json").read_text(encoding="utf-8")
    document: dict[str, object] = json.loads(text)
    return document


def test_asyncapi_document_has_every_topic_with_its_partitions() -> None:
    document = asyncapi()
    assert document["asyncapi"] == "3.0.0"
    channels = document["channels"]
    assert isinstance(channels, dict)
    assert set(channels) == {topic.name for topic in ALL_TOPICS}
    for topic in ALL_TOPICS:
        channel = channels[topic.name]
        assert channel["address"] == topic.name
        assert channel["bindings"]["kafka"]["partitions"] == topic.partitions


def test_asyncapi_messages_reference_existing_schema_files() -> None:
    document = asyncapi()
    components = document["components"]
    assert isinstance(components, dict)
    for message in components["messages"].values():
        ref = message["payload"].get("$ref")
        if ref is not None:
            assert (export.PACKAGE_DIR / ref).is_file(), ref
            assert message["bindings"]["kafka"]["key"]["type"] == "string"


def test_asyncapi_channel_and_operation_refs_resolve() -> None:
    document = asyncapi()
    channels, operations, components = (
        document["channels"],
        document["operations"],
        document["components"],
    )
    assert isinstance(channels, dict)
    assert isinstance(operations, dict)
    assert isinstance(components, dict)
    for channel in channels.values():
        for ref in channel["messages"].values():
            assert ref["$ref"].removeprefix("#/components/messages/") in components["messages"]
    for operation in operations.values():
        channel_id = operation["channel"]["$ref"].removeprefix("#/channels/")
        assert channel_id in channels
        for ref in operation["messages"]:
            prefix = f"#/channels/{channel_id}/messages/"
            assert ref["$ref"].removeprefix(prefix) in channels[channel_id]["messages"]


def test_partners_may_send_every_version_on_partner_events() -> None:
    channel = asyncapi()["channels"]
    assert isinstance(channel, dict)
    messages = channel[PARTNER_EVENTS.name]["messages"]
    assert {"contact.received.v1", "contact.received.v2"} <= set(messages)


def test_topic_names_are_unique_and_partitions_explicit() -> None:
    names = [topic.name for topic in ALL_TOPICS]
    assert len(names) == len(set(names))
    assert all(topic.partitions > 0 for topic in ALL_TOPICS)
    expected = {
        "partner.events": 8, "frontdoor.contacts": 8, "frontdoor.casework": 8,
        "frontdoor.deadletter": 4, "frontdoor.crisis": 4, "frontdoor.conferences": 8,
        "frontdoor.sla": 4,
    }  # fmt: skip
    assert {t.name: t.partitions for t in ALL_TOPICS if t.name in expected} == expected


@pytest.mark.parametrize("agency", list(Agency))
def test_every_agency_has_a_two_partition_inbox(agency: Agency) -> None:
    inbox = agency_inbox(agency)
    assert inbox.name == f"agency.{agency.value}.inbox"
    assert inbox.partitions == 2
    assert inbox in ALL_TOPICS
    assert agency_inbox(agency.value) is inbox


def test_unknown_agency_has_no_inbox() -> None:
    with pytest.raises(ValueError, match="army"):
        agency_inbox("army")


def test_every_topic_event_type_is_registered() -> None:
    registered = INBOUND_TYPES | OUTBOUND_TYPES
    for topic in ALL_TOPICS:
        assert set(topic.event_types) <= registered, topic.name


def test_partner_events_carries_exactly_the_inbound_types() -> None:
    assert set(PARTNER_EVENTS.event_types) == INBOUND_TYPES


def test_every_inbound_type_has_one_frontdoor_topic() -> None:
    for event_type in INBOUND_TYPES:
        homes = [t for t in (CONTACTS, CASEWORK, WORKFORCE) if event_type in t.event_types]
        assert len(homes) == 1, event_type
    assert DEADLETTER.event_types == ()
