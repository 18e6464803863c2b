"""Export the contract for partners: JSON Schema per event and an AsyncAPI 3.0 document.

``python -m schemas.export`` writes ``schemas/json/<event_type>.v<N>.json`` (JSON Schema 2020-12
from the pydantic models, one per registered model, superseded versions included) and
``schemas/asyncapi.json`` (the embedded and production brokers as ``servers``, channels per topic
— each agency's lane ``partner.events.<agency>`` as what that agency's Kafka producer writes, with
the event types its role allows — messages referencing those files, the child id as the Kafka
key). Every schema and every message carries a whole example event (``schemas.examples``).
Output is deterministic: sorted keys, two-space indent, trailing newline.
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

from schemas.envelope import SAFE_ID_PATTERN, Agency, EventBase
from schemas.examples import example
from schemas.registry import EVENT_MODELS, INBOUND_TYPES, event_key, latest_version
from schemas.roles import DEFAULT_ROLES_FILE, RoleTable, load_role_table
from schemas.text import RULE as TEXT_RULE
from schemas.topics import (
    ALL_TOPICS,
    DLQ_HEADERS,
    INTAKE_TOPICS,
    KEY_DESCRIPTION,
    PARTNER_EVENTS,
    Topic,
    lane_agency,
)

SCHEMA_BASE_URI = "https://frontdoor.example/schemas"
CONTRACT_VERSION = "1.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
PACKAGE_DIR = Path(__file__).resolve().parent
JSON_DIR_NAME = "json"
ASYNCAPI_NAME = "asyncapi.json"
DEADLETTER_MESSAGE = "deadletter.record"
EMBEDDED_SERVER = "embedded"
PRODUCTION_SERVER = "production"


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
            "examples": [example(event_type, version)],
        }
    )
    return schema


def _message_id(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}"


def _topic_messages(topic: Topic, roles: RoleTable) -> list[tuple[str, int]]:
    """Messages on a topic: partners may send every registered version (on a lane, of the types
    its agency's role allows); frontdoor publishes the latest."""
    agency = lane_agency(topic.name)
    pairs = []
    for event_type in topic.event_types:
        if agency is not None and not roles.allows(agency, event_type):
            continue
        if topic in INTAKE_TOPICS:
            pairs += sorted(key for key in EVENT_MODELS if key[0] == event_type)
        else:
            pairs.append((event_type, latest_version(event_type)))
    return pairs


def _servers() -> dict[str, Any]:
    """The embedded broker of ``frontdoor dev`` and the production cluster's partner listener."""
    return {
        EMBEDDED_SERVER: {
            "host": "127.0.0.1:{port}",
            "protocol": "kafka",
            "title": "Embedded broker (frontdoor dev)",
            "description": (
                "The broker `frontdoor dev` starts on the developer's machine: plain TCP, no "
                "authentication, memory storage. Its address is printed at start "
                "(`frontdoor dev: broker 127.0.0.1:<port>`) and kept as `bootstrap_servers` in "
                "`.frontdoor/state.json`."
            ),
            "variables": {
                "port": {"description": "The port `frontdoor dev` printed (chosen at start)."}
            },
            "tags": [{"name": "env:dev"}],
        },
        PRODUCTION_SERVER: {
            "host": "{kafka_external_host}:9094",
            "protocol": "kafka-secure",
            "title": "Production cluster, partner listener (EXTERNAL)",
            "description": (
                "SASL_SSL with SCRAM-SHA-512 (deploy/kafka/README.md). Each agency connects as its "
                "own user `User:<agency>`, which may write only its lane "
                "`partner.events.<agency>` (deploy/kafka/acls.sh); the council issues the "
                "password and the CA certificate. Client settings: "
                "`security.protocol=SASL_SSL`, `sasl.mechanism=SCRAM-SHA-512`, "
                "`enable.idempotence=true`, `acks=all`."
            ),
            "variables": {
                "kafka_external_host": {
                    "description": "The broker's external host name ($KAFKA_EXTERNAL_HOST)."
                }
            },
            "security": [{"$ref": "#/components/securitySchemes/agencyScram"}],
            "tags": [{"name": "env:production"}],
        },
    }


def _security_schemes() -> dict[str, Any]:
    return {
        "agencyScram": {
            "type": "scramSha512",
            "description": "The agency's SCRAM-SHA-512 user (`User:<agency>`), over TLS.",
        }
    }


def _lane_description(topic: Topic, agency: Agency, pairs: list[tuple[str, int]]) -> str:
    types = sorted({event_type for event_type, _ in pairs})
    allowed = ", ".join(f"`{t}`" for t in types) if types else "none yet"
    return (
        f"What a Kafka partner of the {agency.value} agency writes: its producer, signed in as "
        f"`User:{agency.value}` on the production listener, publishes here and nowhere else. "
        f"Each record is one event whose `source.agency` is `{agency.value}` and whose type "
        f"its role allows (schemas/roles.toml): {allowed}. Intake validates every record, "
        "de-duplicates by `event_id` and sends what it refuses to the dead-letter topic with "
        f"the reason. Key: {KEY_DESCRIPTION}"
    )


def _kafka_key() -> dict[str, Any]:
    return {"type": "string", "pattern": SAFE_ID_PATTERN, "description": KEY_DESCRIPTION}


def _messages() -> dict[str, Any]:
    messages: dict[str, Any] = {}
    for (event_type, version), model in EVENT_MODELS.items():
        sample = example(event_type, version)
        messages[_message_id(event_type, version)] = {
            "name": event_type,
            "title": f"{event_type} v{version}",
            "summary": _summary(model),
            "contentType": "application/json",
            "payload": {"$ref": f"./{JSON_DIR_NAME}/{schema_file_name(event_type, version)}"},
            "bindings": {"kafka": {"key": _kafka_key(), "bindingVersion": KAFKA_BINDING_VERSION}},
            "examples": [
                {
                    "name": _message_id(event_type, version),
                    "summary": f"A whole {event_type} v{version} event, every field filled.",
                    "payload": sample,
                }
            ],
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
    """The AsyncAPI 3.0.0 document: the brokers, one channel and one operation per topic."""
    roles = load_role_table(DEFAULT_ROLES_FILE)  # the shipped table, never the environment's
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in ALL_TOPICS:
        pairs = _topic_messages(topic, roles)
        agency = lane_agency(topic.name)
        if agency is not None:
            ids = [_message_id(*pair) for pair in pairs]
            description = _lane_description(topic, agency, pairs)
        else:
            ids = [_message_id(*pair) for pair in pairs] or [DEADLETTER_MESSAGE]
            description = f"{topic.description} Key: {KEY_DESCRIPTION}"
            if topic is PARTNER_EVENTS:
                description += (
                    " Written by frontdoor itself (the partner API's accepted events, operator "
                    "tools); a Kafka partner writes its own lane, partner.events.<agency>."
                )
        channels[topic.name] = {
            "address": topic.name,
            "title": topic.name,
            "description": description,
            "messages": {mid: {"$ref": f"#/components/messages/{mid}"} for mid in ids},
            "bindings": {
                "kafka": {
                    "topic": topic.name,
                    "partitions": topic.partitions,
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
        action = "receive" if topic in INTAKE_TOPICS else "send"
        summary = f"frontdoor {action}s on {topic.name}."
        if agency is not None:
            summary = f"frontdoor receives what the {agency.value} agency's Kafka producer writes."
        operations[f"{action}.{topic.name}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{topic.name}"},
            "summary": summary,
            "messages": [{"$ref": f"#/channels/{topic.name}/messages/{mid}"} for mid in ids],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "frontdoor event contract",
            "version": CONTRACT_VERSION,
            "description": (
                "Events of a children's services front door (MASH). Every message is one JSON "
                "event envelope; the Kafka key is the child's id. A partner that speaks Kafka "
                "publishes to its own lane, partner.events.<agency>, with its own SCRAM user on "
                "the production server, and may only publish events whose source.agency is its "
                "own, of the types its role allows. Partners that speak HTTP use the partner "
                f"API (POST /v1/events) instead. {TEXT_RULE}"
            ),
        },
        "defaultContentType": "application/json",
        "servers": _servers(),
        "channels": channels,
        "operations": operations,
        "components": {"messages": _messages(), "securitySchemes": _security_schemes()},
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
