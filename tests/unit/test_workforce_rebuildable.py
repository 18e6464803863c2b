"""The workforce in ``frontdoor rebuild``'s chain: what runs with it, and in which order it reads.

Workforce reads only intake's output and nothing rebuilt reads its records, so rebuilding it
runs it alone and rebuilding another service never runs it; its directory's key is read before
the children's so that what names a team finds it (services/common/rebuild.py).
"""

from __future__ import annotations

from services.cli.rebuild import NAMES, chain, processing_time_columns
from services.common.rebuild import _needed, _order
from services.workforce.bootstrap import VIEWS


def test_rebuilding_workforce_runs_it_alone_and_no_other_rebuild_runs_it() -> None:
    links = chain()
    assert [r.name for r in _needed(links, ["workforce"])] == ["workforce"]
    assert [r.name for r in _needed(links, ["sla"])] == [
        "screening",
        "conferences",
        "outofhours",
        "sla",
    ]
    assert [r.name for r in _needed(links, list(NAMES))] == list(NAMES)


def test_every_workforce_table_is_compared_only_the_park_time_left_out() -> None:
    columns = processing_time_columns()
    assert {t: columns[t] for t in VIEWS.tables if columns[t]} == {
        "workforce_parked": ("parked_at",)
    }
    assert {"workforce_clocks", "workforce_alerts", "workforce_parked"} <= set(VIEWS.tables)
    assert not {"sla_timers", "sla_children"} & set(VIEWS.tables)  # the sla rebuild's own


def test_the_directory_is_read_before_the_children_each_key_in_its_own_order() -> None:
    assert VIEWS.read_first == ("workforce",)
    assert _order(VIEWS.read_first) == (
        "ORDER BY child_id NOT IN ('workforce'), child_id, recorded_at, source_offset, "
        "occurred_at, event_id"
    )
    assert _order(()) == "ORDER BY child_id, recorded_at, source_offset, occurred_at, event_id"
