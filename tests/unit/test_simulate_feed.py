"""The synthetic feed: valid, ordered, deterministic, realistic in volume and true to case rules."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.envelope import LONDON, Agency
from schemas.events.workforce import DIRECTORY_KEY
from schemas.registry import INBOUND_TYPES, parse_event, parse_event_json
from services.common.calendar import WorkingCalendar
from services.simulate.cli import england_bank_holidays, write_feed
from services.simulate.domain.calendar import add_working_days, is_out_of_hours, local_moment
from services.simulate.domain.feed import generate_feed, iter_feed

START = date(2024, 4, 1)  # Easter Monday; the window takes in both May bank holidays
DAYS = 160
HOLIDAYS = england_bank_holidays(START, DAYS)
OTHER_CONTACT = "contact.received"
DA = "police.da_notification"
Feed = list[Any]  # parsed events of many models; the tests read payload fields by name


@pytest.fixture(scope="module")
def feed() -> Feed:
    """160 days (long enough for review conferences) at 0.3 scale, validated as intake does."""
    raw = generate_feed(start=START, days=DAYS, seed=11, holidays=HOLIDAYS, scale=0.3)
    return [parse_event(event) for event in raw]


def by_type(feed: Feed) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = defaultdict(list)
    for event in feed:
        groups[event.event_type].append(event)
    return groups


def local_day(moment: Any) -> date:
    day: date = moment.astimezone(LONDON).date()
    return day


def test_same_seed_writes_the_same_feed_and_another_seed_does_not(tmp_path: Path) -> None:
    paths = [tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"]
    for path, seed in zip(paths, (5, 5, 6), strict=True):
        write_feed(path, days=4, seed=seed, start=START)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_every_written_line_is_a_valid_inbound_event(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    count = write_feed(path, days=5, seed=3, start=date(2024, 12, 23))
    lines = path.read_bytes().splitlines()
    assert count == len(lines) > 0
    events = [parse_event_json(line) for line in lines]
    assert {event.event_type for event in events} <= INBOUND_TYPES
    assert len({event.event_id for event in events}) == len(events)


def test_feed_goes_to_stdout_without_a_path(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    count = write_feed(None, days=2, seed=1, start=START)
    lines = capsysbinary.readouterr().out.splitlines()
    assert count == len(lines) > 0
    assert parse_event_json(lines[0]).event_type in INBOUND_TYPES


def test_events_are_in_occurred_at_order_within_the_window(feed: Feed) -> None:
    moments = [event.occurred_at for event in feed]
    assert moments == sorted(moments)
    assert local_moment(START, 0) <= moments[0]
    assert moments[-1] < local_moment(START + timedelta(days=DAYS), 0)


def test_every_inbound_type_appears(feed: Feed) -> None:
    assert set(by_type(feed)) == INBOUND_TYPES


def test_da_notifications_are_the_largest_contact_stream(feed: Feed) -> None:
    counts = Counter(event.event_type for event in feed)
    assert counts[DA] > counts[OTHER_CONTACT]
    others = {k: v for k, v in counts.items() if k not in {DA, "screening.decision_recorded"}}
    assert counts[DA] > max(others.values())


def test_daily_volumes_at_scale_one_look_like_a_borough() -> None:
    days = 21
    start = date(2024, 6, 3)  # three full term-time weeks
    events = generate_feed(start=start, days=days, seed=2, holidays=HOLIDAYS)
    per_day: dict[date, Counter[str]] = defaultdict(Counter)
    for event in events:
        per_day[local_day(event["occurred_at"])][event["event_type"]] += 1
    da = sum(c[DA] for c in per_day.values()) / days
    weekdays = [c for d, c in per_day.items() if d.weekday() < 5]
    other_weekday = sum(c[OTHER_CONTACT] for c in weekdays) / len(weekdays)
    contacts = sum(c[DA] + c[OTHER_CONTACT] for c in per_day.values())
    referrals = sum(c["referral.accepted"] for c in per_day.values())
    assert 40 <= da <= 60
    assert 25 <= other_weekday <= 45
    assert 0.12 <= referrals / contacts <= 0.22


def test_scale_multiplies_volumes() -> None:
    start = date(2024, 6, 3)
    single = generate_feed(start=start, days=7, seed=4, holidays=HOLIDAYS)
    double = generate_feed(start=start, days=7, seed=4, holidays=HOLIDAYS, scale=2.0)
    ratio = len(double) / len(single)
    assert 1.7 <= ratio <= 2.3


def test_schools_send_contacts_only_in_term_time() -> None:
    summer = generate_feed(start=date(2024, 8, 5), days=14, seed=8, holidays=HOLIDAYS)
    agencies = {e["source"]["agency"] for e in summer if e["event_type"] == OTHER_CONTACT}
    assert "education" not in agencies
    assert {"health", "public"} <= agencies


def test_households_recur_with_repeat_da_incidents(feed: Feed) -> None:
    notifications = by_type(feed)[DA]
    repeats = [n for n in notifications if n.payload.previous_incidents_12m > 0]
    assert repeats
    children = Counter(n.subject.child_id for n in notifications)
    assert max(children.values()) >= 2
    assert all(n.subject.family_id for n in notifications)


def referral_events(feed: Feed) -> dict[Any, Feed]:
    episodes: dict[Any, Feed] = defaultdict(list)
    for event in feed:
        referral_id = getattr(event.payload, "referral_id", None)
        if referral_id is not None and event.event_type != "screening.decision_recorded":
            episodes[referral_id].append(event)
    return episodes


def test_nothing_happens_before_its_referral_or_after_its_closure(feed: Feed) -> None:
    for referral_id, events in referral_events(feed).items():
        assert events[0].event_type == "referral.accepted", referral_id
        closures = [i for i, e in enumerate(events) if e.event_type == "case.closed"]
        assert closures in ([], [len(events) - 1]), [e.event_type for e in events]
        if events[-1].event_type == "case.closed" and events[-1].payload.referral_nfa:
            assert len(events) == 2


def test_a_referral_follows_its_screening_decision(feed: Feed) -> None:
    decided = {}
    for event in feed:
        if event.event_type == "screening.decision_recorded" and event.payload.referral_id:
            decided[event.payload.referral_id] = event.occurred_at
        if event.event_type == "referral.accepted":
            assert decided[event.payload.referral_id] <= event.occurred_at


def test_a_child_never_has_two_open_episodes_plans_or_s47s(feed: Feed) -> None:
    open_episodes: dict[str, set[Any]] = defaultdict(set)
    open_plans: dict[str, set[Any]] = defaultdict(set)
    open_s47: dict[str, set[Any]] = defaultdict(set)
    for event in feed:
        child, p = event.subject.child_id, event.payload
        if event.event_type == "referral.accepted":
            assert not open_episodes[child], child
            open_episodes[child].add(p.referral_id)
        elif event.event_type == "case.closed":
            open_episodes[child].discard(p.referral_id)
        elif event.event_type == "conference.icpc_held" and p.plan:
            assert not open_plans[child], child
            open_plans[child].add(p.plan_id)
        elif event.event_type == "cp_plan.ended":
            open_plans[child].remove(p.plan_id)
        elif event.event_type == "s47.started":
            assert not open_s47[child], child
            open_s47[child].add(p.s47_id)
        elif event.event_type == "s47.completed":
            open_s47[child].remove(p.s47_id)


def test_plan_events_follow_the_icpc_that_made_the_plan(feed: Feed) -> None:
    started: dict[Any, Any] = {}
    for event in feed:
        p = event.payload
        if event.event_type == "conference.icpc_held" and p.plan:
            started[p.plan_id] = p.conference_at
        elif event.event_type in {"core_group.held", "conference.rcpc_held", "cp_plan.ended"}:
            assert p.plan_id in started
        elif event.event_type == "visit.recorded" and p.plan_id is not None:
            assert started[p.plan_id] <= p.visit_at


def test_conferences_are_on_working_days(feed: Feed) -> None:
    groups = by_type(feed)
    conferences = groups["conference.icpc_held"] + groups["conference.rcpc_held"]
    assert conferences
    for conference in conferences:
        day = local_day(conference.payload.conference_at)
        assert day.weekday() < 5, day
        assert day not in HOLIDAYS, day


def test_most_icpcs_are_within_fifteen_working_days_and_some_are_late(
    feed: Feed,
) -> None:
    strategy_day = {}
    for s47 in by_type(feed)["s47.started"]:
        strategy_day[s47.payload.s47_id] = local_day(s47.payload.started_at)
    on_time = late = 0
    for icpc in by_type(feed)["conference.icpc_held"]:
        due = add_working_days(strategy_day[icpc.payload.s47_id], 15, HOLIDAYS)
        if local_day(icpc.payload.conference_at) <= due:
            on_time += 1
        else:
            late += 1
    assert on_time > 3 * late
    assert late > 0


def test_assessments_are_authorised_after_they_start(feed: Feed) -> None:
    started = {e.payload.assessment_id: e.payload.started_at for e in by_type(feed)["assessment.started"]}  # fmt: skip
    authorised = by_type(feed)["assessment.authorised"]
    assert authorised
    for event in authorised:
        assert started[event.payload.assessment_id] < event.payload.authorised_at


def test_out_of_hours_events_fall_out_of_hours(feed: Feed) -> None:
    groups = by_type(feed)
    night = groups["police.protection_started"] + groups["child.missing_reported"]
    assert night
    assert groups["ooh.action_recorded"]
    for event in night:
        assert is_out_of_hours(event.occurred_at, HOLIDAYS), event.occurred_at


def test_the_day_after_the_2022_state_funeral_counts_as_the_next_working_day() -> None:
    holidays = england_bank_holidays(date(2022, 1, 1), 365)
    assert date(2022, 9, 19) in holidays
    assert add_working_days(date(2022, 9, 16), 1, holidays) == date(2022, 9, 20)


def test_icpc_due_date_follows_the_domain_convention() -> None:
    # DOMAIN.md: a Wednesday 5 June 2024 start has its ICPC due Wednesday 26 June 2024.
    assert add_working_days(date(2024, 6, 5), 15, HOLIDAYS) == date(2024, 6, 26)
    assert add_working_days(date(2024, 6, 5), 0, HOLIDAYS) == date(2024, 6, 5)
    assert add_working_days(date(2024, 5, 24), 1, HOLIDAYS) == date(2024, 5, 28)
    assert START + timedelta(days=DAYS) > date(2024, 5, 27)


def test_feed_working_days_agree_with_the_shared_calendar() -> None:
    """The feed must put deadlines where the SLA service will compute them."""
    shared = WorkingCalendar.england_and_wales(2024, 2026)
    day = date(2024, 3, 20)
    while day < date(2025, 1, 10):
        for count in (0, 1, 10, 15, 45):
            assert add_working_days(day, count, HOLIDAYS) == shared.add_working_days(day, count)
        day += timedelta(days=1)


# ── the simulated front door agrees with the services (issue 12 §5) ─────────────────────────


def test_every_report_answers_frontdoors_invitation_and_every_held_conference_has_its_reports(
    feed: Feed,
) -> None:
    """Run the conferences domain itself over the feed: no report names a conference frontdoor
    did not book, each comes after its invitation, and every invited agency reported."""
    from services.conferences.adapters.rules import load_rules
    from services.conferences.domain.processing import apply_event
    from services.conferences.domain.state import ChildFile, ConferenceStatus

    rules, calendar = load_rules("wt2013"), WorkingCalendar.england_and_wales(2023, 2026)
    files: dict[str, ChildFile] = {}
    invited_at: dict[tuple[Any, str], Any] = {}
    reports = 0
    for event in feed:
        child = event.subject.child_id
        before = files.get(child) or ChildFile(child_id=child)
        outcome = apply_event(before, event, rules=rules, calendar=calendar)  # raises on a misfit
        files[child] = outcome.child
        for invitation in outcome.issued:
            key = (invitation.payload.conference_id, invitation.payload.agency.value)
            invited_at[key] = invitation.occurred_at
        if event.event_type == "conference.report_submitted":
            reports += 1
            key = (event.payload.conference_id, event.payload.agency.value)
            assert invited_at[key] <= event.payload.submitted_at
    held = [
        c for f in files.values() for c in f.conferences.values()
        if c.status is ConferenceStatus.HELD
    ]  # fmt: skip
    assert len(held) > 20
    assert reports > 2 * len(held)
    on_time = total = 0
    for conference in held:
        reported = {r.agency for r in conference.reports}
        assert reported == set(conference.invited) - {Agency.SOCIAL_CARE}, conference.conference_id
        on_time += sum(r.on_time for r in conference.reports)
        total += len(conference.reports)
    assert on_time / total > 0.9


def test_encompass_notices_reach_most_schools_before_the_next_school_day(feed: Feed) -> None:
    """DOMAIN.md §2: every school-age child (4-17) in a police DA notification gets one
    Encompass notice, mostly before 08:30 on the next working day, a few late."""
    calendar = WorkingCalendar.england_and_wales(2023, 2026)
    groups = by_type(feed)
    notices = {e.payload.contact_id: e for e in groups["education.encompass_notified"]}
    due = 0
    on_time = 0
    for n in groups[DA]:
        p = n.payload
        born = p.child.date_of_birth
        age = None if born is None else (
            local_day(p.incident_at).year - born.year
            - ((local_day(p.incident_at).month, local_day(p.incident_at).day)
               < (born.month, born.day))
        )  # fmt: skip
        if age is None or not 4 <= age <= 17:
            assert p.contact_id not in notices
            continue
        if local_day(p.contact_at) >= START + timedelta(days=DAYS - 2):
            continue  # a late notice may fall after the window
        due += 1
        notice = notices[p.contact_id]
        assert notice.source.agency.value == "police"
        assert notice.payload.notified_at > p.incident_at
        deadline = calendar.next_school_day(p.incident_at)
        on_time += notice.payload.notified_at < deadline
    assert due > 100
    assert 0.85 < on_time / due < 1.0


def test_no_encompass_notice_before_the_scheme_domain_2() -> None:
    raw = generate_feed(
        start=date(2011, 5, 2), days=7, seed=4, holidays=england_bank_holidays(date(2011, 5, 2), 7)
    )
    types = Counter(e["event_type"] for e in raw)
    assert types[DA] > 50
    assert types["education.encompass_notified"] == 0


def test_each_seed_has_its_own_child_id_space_and_a_prefix_can_be_chosen() -> None:
    """Children, families, teams and workers alike: the directory's events carry the fixed key
    ``workforce`` (not a child), but the ids they record are the seed's own."""
    feeds = [
        generate_feed(start=START, days=3, seed=seed, holidays=HOLIDAYS, scale=0.3)
        for seed in (1, 2)
    ]
    one, two = ({e["subject"]["child_id"] for e in f} - {DIRECTORY_KEY} for f in feeds)
    assert one
    assert not one & two
    teams_one, teams_two = ({e["payload"]["team_id"] for e in f
                             if e["event_type"] == "team.recorded"} for f in feeds)  # fmt: skip
    workers_one, workers_two = ({e["payload"]["worker_id"] for e in f
                                 if e["event_type"] == "worker.joined"} for f in feeds)  # fmt: skip
    assert teams_one
    assert workers_one
    assert not teams_one & teams_two
    assert not workers_one & workers_two
    chosen = list(
        iter_feed(start=START, days=2, seed=1, holidays=HOLIDAYS, scale=0.3, child_prefix="EAST")
    )
    subjects = [e["subject"] for e in chosen if e["subject"]["child_id"] != DIRECTORY_KEY]
    assert all(s["child_id"].startswith("EAST") for s in subjects)
    assert all(s["family_id"].startswith("EAST") for s in subjects if s["family_id"])
    named = [e["payload"] for e in chosen if e["event_type"] in {"team.recorded", "worker.joined"}]
    assert named
    assert all(p.get("team_id", "").startswith("EAST") for p in named)
    assert all(p["worker_id"].startswith("EAST") for p in named if "worker_id" in p)


def test_a_bad_child_prefix_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="child prefix"):
        write_feed(tmp_path / "x.jsonl", days=1, seed=1, start=START, child_prefix="no spaces")
