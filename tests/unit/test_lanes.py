"""Every agency in its own lane: one rule (schemas/roles.py) for both paths.

The spoofing matrix is generated from the shipped role table (tests/lanes.py). On the Kafka path
each case is published on the speaker's own topic ``partner.events.<agency>`` and run through
intake's handler on the real pipeline (in-memory ports); on the HTTP path it is judged by
ingress's ``check_event`` with the speaker's credential. A forbidden case is a ``validation``
dead letter ``agency_not_permitted`` with an audit row (Kafka) or a 403 (HTTP), and is never
routed; an allowed one is routed. The speaker rules for ``partner.events`` are tested apart.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
import pytest

from schemas.envelope import Agency
from schemas.registry import INBOUND_TYPES
from schemas.roles import (
    AGENCY_MISMATCH,
    EVENT_TYPE_NOT_PERMITTED,
    lane_violations,
    load_role_table,
)
from schemas.topics import PARTNER_EVENTS, REPLAY_HEADER, SPEAKER_HEADER, partner_lane
from services.common.deadletter import Origin, header_map
from services.ingress.domain.codes import Code
from services.ingress.domain.submission import EventAccepted, EventRejected, check_event
from services.intake.adapters.memory import MemoryEventStore
from services.intake.domain.speakers import SpeakerMode, Via, speaker_of
from services.intake.handlers import IntakeHandler
from tests.factories import contact, to_line
from tests.harness import PipelineHarness
from tests.lanes import HONEST, SPOOFED_AUTHOR, SPOOFED_SOURCE, matrix

ROLES = load_role_table()
MATRIX = matrix(ROLES)


def _harness(store: MemoryEventStore, mode: SpeakerMode = SpeakerMode.LANES) -> PipelineHarness:
    handler = IntakeHandler(store, roles=ROLES, mode=mode)
    return PipelineHarness(handler, consumer="intake", max_bytes=2_000_000)


def test_the_matrix_covers_every_agency_type_and_variant() -> None:
    variants = Counter(c.variant for c in MATRIX)
    assert variants[HONEST] == len(Agency) * len(INBOUND_TYPES)
    assert variants[SPOOFED_SOURCE] == len(Agency) * len(INBOUND_TYPES)
    assert variants[SPOOFED_AUTHOR] == len(Agency)  # conference.report_submitted's payload.agency
    allowed = sum(c.allowed for c in MATRIX)
    assert allowed == sum(len(ROLES.permitted(a)) for a in Agency)
    assert 0 < allowed < len(MATRIX)


async def test_kafka_path_every_forbidden_case_is_a_dead_letter_and_every_allowed_one_lands() -> (
    None
):
    store = MemoryEventStore()
    h = _harness(store)
    origins = [
        Origin(partner_lane(c.speaker).name, 0, i, b"k", to_line(c.event))
        for i, c in enumerate(MATRIX)
    ]
    outcome = await h.feed(origins)
    allowed = {c.event["event_id"] for c in MATRIX if c.allowed}
    forbidden = {c.event["event_id"] for c in MATRIX if not c.allowed}
    assert {str(i) for i in store.rows} == allowed
    routed = {orjson.loads(r.value or b"{}").get("event_id") for r in h.sent if r.value}
    letters = [r for r in h.sent if r.topic == "frontdoor.deadletter"]
    assert {orjson.loads(r.value or b"{}")["event_id"] for r in letters} == forbidden
    assert routed >= allowed
    for letter in letters:
        headers = header_map(letter.headers)
        assert headers["dlq.reason"] == "validation"
        assert headers["dlq.exception.class"].endswith("AgencyNotPermittedError")
        assert headers["dlq.exception.message"].startswith("agency_not_permitted: ")
    assert outcome.dead_lettered == len(forbidden)
    assert {str(r.event_id) for r in store.refusals} == forbidden
    assert {r.via for r in store.refusals} == {Via.LANE}
    print(f"\nkafka lanes: {len(allowed)} allowed landed, {len(forbidden)} forbidden refused")


def test_http_path_every_forbidden_case_is_403_and_every_allowed_one_accepted() -> None:
    counts: Counter[str] = Counter()
    for c in MATRIX:
        body = orjson.dumps(c.event)
        verdict = check_event(
            0, c.event, len(body), agency=c.speaker, roles=ROLES, max_event_bytes=2_000_000
        )
        if c.allowed:
            assert isinstance(verdict, EventAccepted), c.id
            counts["accepted"] += 1
            continue
        assert isinstance(verdict, EventRejected), c.id
        assert verdict.status == 403, (c.id, verdict.code)
        # security first: a foreign source.agency before the type; the payload's author is read
        # only on an event the speaker may send at all
        permitted = ROLES.allows(c.speaker, c.event_type)
        mismatch = c.variant == SPOOFED_SOURCE or (c.variant == SPOOFED_AUTHOR and permitted)
        expected = Code.AGENCY_MISMATCH if mismatch else Code.EVENT_TYPE_NOT_PERMITTED
        assert verdict.code == expected, c.id
        counts["refused"] += 1
    assert counts["accepted"] == sum(c.allowed for c in MATRIX)
    print(f"\nhttp: {counts['accepted']} accepted, {counts['refused']} refused with 403")


def test_the_payload_author_is_held_to_the_speaker_on_both_paths() -> None:
    (case,) = [c for c in MATRIX if c.variant == SPOOFED_AUTHOR and c.speaker is Agency.EDUCATION]
    from schemas.registry import parse_event

    violations = lane_violations(Agency.EDUCATION, parse_event(case.event), ROLES)
    assert [(v.loc, v.rule) for v in violations] == [(("payload", "agency"), AGENCY_MISMATCH)]
    assert "police" not in violations[0].message  # the rule and the field, not the value


def test_a_type_the_role_table_forbids_names_the_rule() -> None:
    (case,) = [
        c
        for c in MATRIX
        if c.variant == HONEST and c.speaker is Agency.EDUCATION
        and c.event_type == "conference.icpc_held"
    ]  # fmt: skip
    from schemas.registry import parse_event

    (violation,) = lane_violations(Agency.EDUCATION, parse_event(case.event), ROLES)
    assert violation.rule == EVENT_TYPE_NOT_PERMITTED
    assert violation.loc == ("event_type",)


# -- who speaks on partner.events ------------------------------------------------------------


def _shared(
    headers: tuple[tuple[str, bytes], ...] = (), event: dict[str, Any] | None = None
) -> Origin:
    """A record on partner.events (a fresh contact unless ``event``) with these headers."""
    return Origin(PARTNER_EVENTS.name, 0, 0, b"k", to_line(event or contact()), headers)


@pytest.mark.parametrize(
    ("headers", "mode", "via", "agency"),
    [
        (((SPEAKER_HEADER, b"health"),), SpeakerMode.LANES, Via.INGRESS, Agency.HEALTH),
        (((REPLAY_HEADER, b"x"),), SpeakerMode.LANES, Via.REPLAY, None),
        ((), SpeakerMode.LANES, Via.NONE, None),
        ((), SpeakerMode.SINGLE_TENANT, Via.SINGLE_TENANT, None),
        (((SPEAKER_HEADER, b"p\xce\xbflice"),), SpeakerMode.LANES, Via.NONE, None),  # confusable
        (((SPEAKER_HEADER, b"\xff"),), SpeakerMode.SINGLE_TENANT, Via.NONE, None),
    ],
)
def test_the_speaker_on_the_shared_topic(
    headers: tuple[tuple[str, bytes], ...], mode: SpeakerMode, via: Via, agency: Agency | None
) -> None:
    speaker = speaker_of(_shared(headers), mode)
    assert (speaker.via, speaker.agency) == (via, agency)


def test_a_lane_names_its_agency_whatever_the_headers_say() -> None:
    origin = Origin(
        partner_lane(Agency.HOUSING).name, 0, 0, b"k", b"{}", ((SPEAKER_HEADER, b"police"),)
    )
    assert speaker_of(origin, SpeakerMode.LANES).agency is Agency.HOUSING


async def test_an_unstamped_record_on_the_shared_topic_is_refused_unless_single_tenant() -> None:
    event = contact()
    store = MemoryEventStore()
    h = _harness(store)
    outcome = await h.feed([_shared(event=event)])
    assert outcome.dead_lettered == 1
    (letter,) = h.sent
    assert "no trusted speaker" in header_map(letter.headers)["dlq.exception.message"]
    assert store.refusals[0].rules == ("no_trusted_speaker",)
    assert not store.rows

    single = MemoryEventStore()
    h = _harness(single, SpeakerMode.SINGLE_TENANT)
    assert (await h.feed([_shared(event=event)])).handled == 1
    assert len(single.rows) == 1


async def test_a_vouched_replay_still_obeys_the_role_table() -> None:
    (case,) = [
        c
        for c in MATRIX
        if c.variant == HONEST and c.speaker is Agency.HOUSING
        and c.event_type == "police.protection_started"
    ]  # fmt: skip
    store = MemoryEventStore()
    origin = Origin(
        PARTNER_EVENTS.name, 0, 0, b"k", to_line(case.event), ((REPLAY_HEADER, b"replay"),)
    )
    outcome = await _harness(store).feed([origin])
    assert outcome.dead_lettered == 1
    assert store.refusals[0].rules == (EVENT_TYPE_NOT_PERMITTED,)
    assert store.refusals[0].via is Via.REPLAY


def test_spoofed_source_cases_exist_for_every_agency() -> None:
    speakers = {c.speaker for c in MATRIX if c.variant == SPOOFED_SOURCE}
    assert speakers == set(Agency)
