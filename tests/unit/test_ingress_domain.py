"""Partner ingress's pure rules: key format, role table, rate limits, judging submissions."""

from __future__ import annotations

import uuid

import orjson
import pytest

from schemas.envelope import Agency
from schemas.registry import INBOUND_TYPES
from schemas.roles import DEFAULT_ROLES_FILE, RoleTableError, parse_role_table
from services.ingress.domain.codes import PROBLEM_BASE_URI, Code
from services.ingress.domain.keys import bearer_token, fingerprint, make_key, parse_key
from services.ingress.domain.ratelimit import Bucket, RateLimiter, take
from services.ingress.domain.submission import (
    EventAccepted,
    EventRejected,
    RequestRejected,
    Submission,
    check,
    read_submission,
)
from tests.factories import contact, da_notification

ROLES = parse_role_table(DEFAULT_ROLES_FILE.read_text(encoding="utf-8"))
POLICE_ONLY = {
    "police.da_notification",
    "police.protection_started",
    "police.protection_ended",
    "education.encompass_notified",  # the police (their MASH desk) tell the school: DOMAIN.md §2
}


def judge(body: object, agency: Agency, *, max_event_bytes: int = 256 * 1024) -> list[object]:
    submission = read_submission(orjson.dumps(body), max_batch=500)
    assert isinstance(submission, Submission)
    return list(check(submission, agency=agency, roles=ROLES, max_event_bytes=max_event_bytes))


# -- keys --------------------------------------------------------------------------------------


def test_a_key_round_trips_through_its_text() -> None:
    key = make_key("0123456789abcdef", "s" * 43)
    assert key.text == "fd_0123456789abcdef_" + "s" * 43
    assert parse_key(key.text) == key


def test_a_secret_may_contain_underscores_and_dashes() -> None:
    secret = "ab_cd-ef" * 5
    parsed = parse_key(f"fd_0123456789abcdef_{secret}")
    assert parsed is not None
    assert parsed.secret == secret


@pytest.mark.parametrize(
    "text",
    [
        "",
        "fd_0123456789abcdef",
        "xx_0123456789abcdef_" + "s" * 43,
        "fd_0123456789ABCDEF_" + "s" * 43,
        "fd_0123456789abcde_" + "s" * 43,
        "fd_0123456789abcdef_short",
        "fd_0123456789abcdef_" + "s" * 42 + "!",
    ],
)
def test_text_not_shaped_like_a_key_is_not_a_key(text: str) -> None:
    assert parse_key(text) is None


def test_the_secret_never_appears_in_a_keys_repr() -> None:
    key = make_key("0123456789abcdef", "topsecret" * 5)
    assert "topsecret" not in repr(key)


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer   abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("Bearer ", None),
        (None, None),
    ],
)
def test_bearer_token_reads_only_the_bearer_scheme(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_fingerprint_is_a_sha256_and_differs_per_key() -> None:
    assert len(fingerprint("a")) == 64
    assert fingerprint("a") != fingerprint("b")


# -- roles -------------------------------------------------------------------------------------


def test_a_school_cannot_record_an_icpc() -> None:
    assert not ROLES.allows(Agency.EDUCATION, "conference.icpc_held")
    assert ROLES.allows(Agency.EDUCATION, "contact.received")


def test_only_the_police_send_police_only_event_types() -> None:
    for agency in Agency:
        for event_type in POLICE_ONLY:
            assert ROLES.allows(agency, event_type) == (agency is Agency.POLICE), (
                agency,
                event_type,
            )


def test_every_partner_event_type_is_permitted_to_some_agency() -> None:
    permitted = set().union(*(ROLES.permitted(a) for a in Agency))
    assert permitted == set(INBOUND_TYPES)


def test_social_care_may_send_every_type_except_police_only_ones() -> None:
    assert ROLES.permitted(Agency.SOCIAL_CARE) == INBOUND_TYPES - POLICE_ONLY


def test_every_agency_may_raise_a_contact() -> None:
    assert all(ROLES.allows(a, "contact.received") for a in Agency)


def test_an_agency_missing_from_the_table_may_send_nothing() -> None:
    table = parse_role_table('[agencies]\npolice = ["contact.received"]\n')
    assert table.permitted(Agency.HEALTH) == frozenset()


@pytest.mark.parametrize(
    "text",
    [
        '[agencies]\nschool = ["contact.received"]\n',
        '[agencies]\neducation = ["contact.recieved"]\n',
        '[agencies]\neducation = ["sla.started"]\n',
        '[agencies]\neducation = "contact.received"\n',
        "agencies = 1\n",
        "[agencies\n",
    ],
)
def test_a_role_table_with_a_typo_is_refused(text: str) -> None:
    with pytest.raises(RoleTableError):
        parse_role_table(text)


def test_the_shipped_role_table_parses() -> None:
    assert ROLES.as_dict()["public"] == ["contact.received"]


# -- rate limits -------------------------------------------------------------------------------


def test_a_full_bucket_allows_a_burst_then_refuses() -> None:
    limiter = RateLimiter(rate=10, burst=100)
    assert limiter.take(Agency.POLICE, 100, now=0.0).allowed
    decision = limiter.take(Agency.POLICE, 1, now=0.0)
    assert not decision.allowed
    assert decision.retry_after_seconds == 1


def test_retry_after_is_the_wait_until_enough_tokens_accumulate() -> None:
    limiter = RateLimiter(rate=10, burst=100)
    limiter.take(Agency.POLICE, 100, now=0.0)
    decision = limiter.take(Agency.POLICE, 50, now=1.0)  # 10 tokens back, 40 short: 4 s
    assert decision.retry_after_seconds == 4
    assert limiter.take(Agency.POLICE, 50, now=5.0).allowed


def test_agencies_have_separate_buckets() -> None:
    limiter = RateLimiter(rate=1, burst=5)
    assert limiter.take(Agency.POLICE, 5, now=0.0).allowed
    assert not limiter.take(Agency.POLICE, 1, now=0.0).allowed
    assert limiter.take(Agency.HEALTH, 5, now=0.0).allowed


def test_tokens_never_exceed_the_burst() -> None:
    bucket, _ = take(Bucket(0, 0.0), 0, 1_000.0, rate=10, burst=20)
    assert bucket.tokens == 20


def test_a_refused_request_takes_no_tokens() -> None:
    limiter = RateLimiter(rate=1, burst=10)
    limiter.take(Agency.POLICE, 8, now=0.0)
    assert not limiter.take(Agency.POLICE, 5, now=0.0).allowed
    assert limiter.take(Agency.POLICE, 2, now=0.0).allowed


# -- reading a submission ----------------------------------------------------------------------


def test_an_object_without_events_is_one_event() -> None:
    body = orjson.dumps(contact())
    submission = read_submission(body, max_batch=10)
    assert isinstance(submission, Submission)
    assert not submission.batch
    assert submission.sizes == (len(body),)


def test_a_batch_is_read_with_each_events_size() -> None:
    events = [contact(), contact()]
    submission = read_submission(orjson.dumps({"events": events}), max_batch=10)
    assert isinstance(submission, Submission)
    assert submission.batch
    assert submission.sizes == tuple(len(orjson.dumps(e)) for e in events)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", Code.MALFORMED_JSON),
        (b"", Code.MALFORMED_JSON),
        (b"[1, 2]", Code.INVALID_REQUEST),
        (b'"text"', Code.INVALID_REQUEST),
        (b'{"events": []}', Code.INVALID_REQUEST),
        (b'{"events": {}}', Code.INVALID_REQUEST),
        (b'{"events": [{}], "extra": 1}', Code.INVALID_REQUEST),
        (b'{"events": [{}, {}, {}]}', Code.TOO_MANY_EVENTS),
    ],
)
def test_a_body_that_is_not_events_is_refused_whole(body: bytes, code: Code) -> None:
    result = read_submission(body, max_batch=2)
    assert isinstance(result, RequestRejected)
    assert result.code is code


# -- judging events ----------------------------------------------------------------------------


def test_an_event_naming_another_agency_is_refused_as_a_spoof() -> None:
    (verdict,) = judge(da_notification(), Agency.EDUCATION)
    assert isinstance(verdict, EventRejected)
    assert verdict.code is Code.AGENCY_MISMATCH
    assert verdict.status == 403
    assert verdict.errors[0].loc == ("source", "agency")


def test_a_spoof_is_reported_as_such_even_when_the_event_is_also_invalid() -> None:
    event = contact()
    event["source"]["agency"] = "police"
    del event["payload"]
    (verdict,) = judge(event, Agency.EDUCATION)
    assert isinstance(verdict, EventRejected)
    assert verdict.code is Code.AGENCY_MISMATCH


def test_an_event_type_outside_the_agencys_role_is_forbidden() -> None:
    event = contact()
    event["event_type"] = "conference.icpc_held"
    event["schema_version"] = 1
    (verdict,) = judge(event, Agency.EDUCATION)
    assert isinstance(verdict, EventRejected)
    assert verdict.code is Code.EVENT_TYPE_NOT_PERMITTED
    assert verdict.status == 403


def test_frontdoors_own_event_types_are_forbidden_to_every_partner() -> None:
    event = contact()
    event["event_type"] = "sla.started"
    event["schema_version"] = 1
    event["source"]["agency"] = "social_care"
    (verdict,) = judge(event, Agency.SOCIAL_CARE)
    assert isinstance(verdict, EventRejected)
    assert verdict.code is Code.EVENT_TYPE_NOT_PERMITTED
    assert "frontdoor itself" in verdict.detail


def test_a_valid_event_of_a_permitted_type_is_accepted_in_canonical_form() -> None:
    event = contact()
    (verdict,) = judge(event, Agency.EDUCATION)
    assert isinstance(verdict, EventAccepted)
    assert str(verdict.event.event_id) == event["event_id"]
    assert orjson.loads(verdict.canonical)["event_id"] == event["event_id"]


def test_schema_errors_name_the_field_without_echoing_the_value() -> None:
    event = contact()
    event["subject"]["child_id"] = "not a safe id: Alex Example"
    (verdict,) = judge(event, Agency.EDUCATION)
    assert isinstance(verdict, EventRejected)
    assert verdict.code is Code.INVALID_EVENT
    assert verdict.status == 422
    assert ("subject", "child_id") in [e.loc for e in verdict.errors]
    rendered = repr(verdict)
    assert "Alex Example" not in rendered


def test_an_unknown_schema_version_lists_the_known_ones() -> None:
    event = contact()
    event["schema_version"] = 9
    (verdict,) = judge(event, Agency.EDUCATION)
    assert isinstance(verdict, EventRejected)
    assert verdict.code is Code.UNKNOWN_EVENT_TYPE
    assert verdict.errors[0].loc == ("schema_version",)
    assert "[1, 2]" in verdict.errors[0].msg


def test_an_event_over_the_size_limit_is_refused_with_413() -> None:
    event = contact()
    (verdict,) = judge(event, Agency.EDUCATION, max_event_bytes=100)
    assert isinstance(verdict, EventRejected)
    assert verdict.code is Code.EVENT_TOO_LARGE
    assert verdict.status == 413


def test_one_bad_event_in_a_batch_leaves_the_good_ones_accepted() -> None:
    good, bad = contact(), contact()
    bad["payload"]["referral_source"] = "ZZ"
    verdicts = judge({"events": [good, bad, contact()]}, Agency.EDUCATION)
    assert [type(v).__name__ for v in verdicts] == [
        "EventAccepted",
        "EventRejected",
        "EventAccepted",
    ]
    rejected = verdicts[1]
    assert isinstance(rejected, EventRejected)
    assert rejected.index == 1
    assert str(rejected.event_id) == bad["event_id"]


def test_a_repeated_event_id_in_one_batch_is_refused_after_its_first_use() -> None:
    event = contact()
    verdicts = judge({"events": [event, event]}, Agency.EDUCATION)
    assert isinstance(verdicts[0], EventAccepted)
    assert isinstance(verdicts[1], EventRejected)
    assert verdicts[1].code is Code.DUPLICATE_EVENT_ID


def test_a_non_object_in_a_batch_is_an_invalid_event_without_an_id() -> None:
    (verdict,) = judge({"events": [42]}, Agency.EDUCATION)
    assert isinstance(verdict, EventRejected)
    assert verdict.code is Code.INVALID_EVENT
    assert verdict.event_id is None


def test_every_code_has_a_status_title_and_problem_uri() -> None:
    for code in Code:
        assert 400 <= code.status < 600
        assert code.problem_title
        assert code.type_uri == PROBLEM_BASE_URI + code.value


def test_event_ids_are_read_even_from_rejected_events() -> None:
    event_id = str(uuid.uuid4())
    (verdict,) = judge({"event_id": event_id, "event_type": "nonsense"}, Agency.POLICE)
    assert isinstance(verdict, EventRejected)
    assert str(verdict.event_id) == event_id


def test_an_event_valid_for_its_old_version_that_cannot_be_upgraded_is_422_not_500(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from schemas.registry import UpcastFailedError
    from services.ingress.domain import submission

    def failing(_item: object) -> object:
        raise UpcastFailedError("contact.received", 1, KeyError("name"))

    monkeypatch.setattr(submission, "parse_event", failing)
    (verdict,) = judge(contact(), Agency.EDUCATION)
    assert isinstance(verdict, EventRejected)
    assert (verdict.status, verdict.code) == (422, Code.INVALID_EVENT)
    assert verdict.errors[0].type == "upcast_failed"
    assert "contact.received v1 to v2" in verdict.detail
