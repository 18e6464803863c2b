"""Folding one child's events into their history: linking by ids, merging personal details."""

from __future__ import annotations

import random
from datetime import date

from schemas.codes import Disability, Ethnicity, Sex
from services.returns.domain.history import fold_child
from services.returns.domain.periods import start_of
from tests.unit.test_returns_annex_a import plan_ended
from tests.unit.test_returns_story import Story, at, details

UNTIL = start_of(date(2025, 4, 1))


def test_the_fold_does_not_depend_on_the_order_events_arrive_in() -> None:
    story = plan_ended()
    events = story.events
    shuffled = list(events)
    random.Random(4).shuffle(shuffled)
    assert fold_child(story.child_id, shuffled, until=UNTIL) == fold_child(
        story.child_id, events, until=UNTIL
    )


def test_plans_reviews_and_visits_hang_on_the_episode_that_made_them() -> None:
    history = fold_child("BILAL2", plan_ended().events, until=UNTIL)
    old, new = history.episodes
    assert [len(e.plans) for e in (old, new)] == [1, 1]
    (plan,) = new.plans
    assert [r.plan_continues for r in plan.reviews] == [True, False]
    assert [v.seen_alone for v in plan.visits] == [True, False]
    assert history.plans == (*old.plans, plan)


def test_a_later_event_never_erases_what_an_earlier_one_recorded() -> None:
    first = Story("MERGE1", details(upn="Q372422617057", disabilities=["AUT"], ethnicity="WBRI"))
    first.contact(at(date(2024, 6, 3)))
    later = Story("MERGE1", details(upn=None, disabilities=[], ethnicity="NOBT", sex="U"))
    later.police_notification(at(date(2024, 9, 3)))
    history = fold_child("MERGE1", [*first.events, *later.events], until=UNTIL)
    d = history.details
    assert d is not None
    assert (d.upn, d.disabilities, d.ethnicity, d.sex) == (
        "Q372422617057",
        (Disability.AUTISM,),
        Ethnicity.WHITE_BRITISH,
        Sex.FEMALE,
    )


def test_a_recorded_birth_replaces_the_expected_birth_date() -> None:
    before = Story("BORN2", details(date_of_birth=None, expected_birth_date="2024-07-01", sex="U"))
    before.contact(at(date(2024, 5, 3)))
    after = Story("BORN2", details(date_of_birth="2024-06-28", sex="M"))
    after.contact(at(date(2024, 8, 3)))
    d = fold_child("BORN2", [*before.events, *after.events], until=UNTIL).details
    assert d is not None
    assert (d.date_of_birth, d.expected_birth_date, d.sex) == (date(2024, 6, 28), None, Sex.MALE)


def test_events_from_the_cut_off_on_are_not_part_of_the_history() -> None:
    s = Story("CUT3")
    s.contact(at(date(2025, 3, 31), 23, 59))
    s.contact(at(date(2025, 4, 1), 0, 0))
    assert len(fold_child("CUT3", s.events, until=UNTIL).contacts) == 1
