"""Export the contract for partners: JSON Schema per event and an AsyncAPI 3.0 document.

``python -m schemas.export`` writes ``schemas/json/<event_type>.v<N>.json`` (JSON Schema 2020-12
from the pydantic models, one per registered model, superseded versions included) and
``schemas/asyncapi.json`` (channels per topic, messages referencing those files, the child id as
the Kafka key). Output is deterministic: sorted keys, two-space indent, trailing newline.
``--check`` writes nothing and exits 1 naming every file that regenerating would change, add or
delete; CI runs it so the published files never drift from the models. ``$id`` values are
identifiers under ``SCHEMA_BASE_URI``, not download locations.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from schemas.envelope import SAFE_ID_PATTERN, EventBase
from schemas.registry import EVENT_MODELS, INBOUND_TYPES, event_key, latest_version
from schemas.text import RULE as TEXT_RULE
from schemas.topics import ALL_TOPICS, DLQ_HEADERS, KEY_DESCRIPTION, PARTNER_EVENTS, Topic

SCHEMA_BASE_URI = "https://frontdoor.example/schemas"
CONTRACT_VERSION = "1.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
PACKAGE_DIR = Path(__file__).resolve().parent
JSON_DIR_NAME = "json"
ASYNCAPI_NAME = "asyncapi.json"
DEADLETTER_MESSAGE = "deadletter.record"


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def schema_file_name(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}.json"


def _summary(model: type[EventBase]) -> str:
    return (model.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")


def event_schema(model: type[EventBase]) -> dict[str, Any]:
    """The JSON Schema 2020-12 document for one event model."""
    event_type, version = event_key(model)
    schema = model.model_json_schema(mode="validation")
    direction = "published by partners" if event_type in INBOUND_TYPES else "published by frontdoor"
    superseded = version < latest_version(event_type)
    description = f"{_summary(model)} ({direction}"
    description += "; superseded, upcast on read)" if superseded else ")"
    description += f". {TEXT_RULE}"
    schema.update(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{SCHEMA_BASE_URI}/{JSON_DIR_NAME}/{schema_file_name(event_type, version)}",
            "title": f"{event_type} v{version}",
            "description": description,
        }
    )
    return schema


def _message_id(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}"


def _topic_messages(topic: Topic) -> list[tuple[str, int]]:
    """Messages on a topic: partners may send every registered version; frontdoor the latest."""
    pairs = []
    for event_type in topic.event_types:
        if topic is PARTNER_EVENTS:
            pairs += sorted(key for key in EVENT_MODELS if key[0] == event_type)
        else:
            pairs.append((event_type, latest_version(event_type)))
    return pairs


def _kafka_key() -> dict[str, Any]:
    return {"type": "string", "pattern": SAFE_ID_PATTERN, "description": KEY_DESCRIPTION}


def _messages() -> dict[str, Any]:
    messages: dict[str, Any] = {}
    for (event_type, version), model in EVENT_MODELS.items():
        messages[_message_id(event_type, version)] = {
            "name": event_type,
            "title": f"{event_type} v{version}",
            "summary": _summary(model),
            "contentType": "application/json",
            "payload": {"$ref": f"./{JSON_DIR_NAME}/{schema_file_name(event_type, version)}"},
            "bindings": {"kafka": {"key": _kafka_key(), "bindingVersion": KAFKA_BINDING_VERSION}},
        }
    messages[DEADLETTER_MESSAGE] = {
        "name": DEADLETTER_MESSAGE,
        "title": "Dead-letter record",
        "summary": "The original record, unchanged, with dlq.* headers saying why it failed.",
        "payload": {"description": "The original record value, byte for byte (may not be JSON)."},
        "headers": {
            "type": "object",
            "properties": {name: {"type": "string"} for name in DLQ_HEADERS},
            "required": list(DLQ_HEADERS),
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The original record's key, unchanged."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }
    return messages


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document: one channel and one operation per topic."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in ALL_TOPICS:
        ids = [_message_id(*pair) for pair in _topic_messages(topic)] or [DEADLETTER_MESSAGE]
        channels[topic.name] = {
            "address": topic.name,
            "title": topic.name,
            "description": f"{topic.description} Key: {KEY_DESCRIPTION}",
            "messages": {mid: {"$ref": f"#/components/messages/{mid}"} for mid in ids},
            "bindings": {
                "kafka": {
                    "topic": topic.name,
                    "partitions": topic.partitions,
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
        action = "receive" if topic is PARTNER_EVENTS else "send"
        operations[f"{action}.{topic.name}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{topic.name}"},
            "summary": f"frontdoor {action}s on {topic.name}.",
            "messages": [{"$ref": f"#/channels/{topic.name}/messages/{mid}"} for mid in ids],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "frontdoor event contract",
            "version": CONTRACT_VERSION,
            "description": (
                "Events of a children's services front door (MASH). Every message is one JSON "
                "event envelope; the Kafka key is the child's id. Partners publish to "
                "partner.events and may only publish events whose source.agency is their own. "
                f"{TEXT_RULE}"
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": _messages()},
    }


def expected_files(package_dir: Path = PACKAGE_DIR) -> dict[Path, str]:
    """Every generated file and its exact content."""
    files = {
        package_dir / JSON_DIR_NAME / schema_file_name(*key): _dump(event_schema(model))
        for key, model in EVENT_MODELS.items()
    }
    files[package_dir / ASYNCAPI_NAME] = _dump(asyncapi_document())
    return files


def _obsolete(package_dir: Path, expected: dict[Path, str]) -> list[Path]:
    json_dir = package_dir / JSON_DIR_NAME
    existing = sorted(json_dir.glob("*.json")) if json_dir.is_dir() else []
    return [path for path in existing if path not in expected]


def stale_files(package_dir: Path = PACKAGE_DIR) -> list[Path]:
    """Files that regenerating would create, change or delete (empty when up to date)."""
    expected = expected_files(package_dir)
    changed = [
        path
        for path, text in expected.items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]
    return sorted(changed + _obsolete(package_dir, expected))


def write_files(package_dir: Path = PACKAGE_DIR) -> list[Path]:
    """Regenerate every file; return those created, changed or deleted."""
    expected = expected_files(package_dir)
    touched = []
    for path, text in expected.items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            touched.append(path)
    for path in _obsolete(package_dir, expected):
        path.unlink()
        touched.append(path)
    return sorted(touched)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas.export", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if any file is stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for path in stale:
            sys.stderr.write(f"stale: {path.relative_to(PACKAGE_DIR.parent)}\n")
        if stale:
            sys.stderr.write("run: python -m schemas.export\n")
        return 1 if stale else 0
    for path in write_files():
        sys.stdout.write(f"wrote {path.relative_to(PACKAGE_DIR.parent)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
