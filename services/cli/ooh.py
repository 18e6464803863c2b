"""``frontdoor ooh``: the out-of-hours team's commands — ``watch``, ``handover`` and ``ack``.

``watch`` opens the live view of the night's crisis items (Textual; ``a`` acknowledges, ``r``
records an action). ``handover`` prints every item and action of a night per child, most urgent
first, with the reasons for decisions (a table, or JSON with ``--json``), and publishes it as
``ooh.handover_published`` (parts already published are not sent again; ``--no-publish`` only
previews). ``ack`` is the day team acknowledging that handover, which meets each part's 09:00
clock. A night is named by the date its shift starts (``--night 2024-06-07`` is Friday 17:00 to
Monday 09:00); by default ``watch`` shows the shift under way (or tonight's, in office hours),
``handover`` the shift whose handover is owed now or, when nothing happened in it, the most
recent night with activity, and ``ack`` the shift whose handover is owed now.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
from datetime import UTC, date, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from services.cli.errors import quiet_logs
from services.cli.options import Bootstrap, Database, JsonOut
from services.cli.options import endpoints as stack_endpoints
from services.common.calendar import WorkingCalendar, to_london
from services.common.logging import configure_logging
from services.outofhours.config import OohSettings
from services.outofhours.domain.handover import night_to_hand_over
from services.outofhours.domain.shifts import Shift, shift_for, shift_of_night, shift_to_hand_over

ooh_app = typer.Typer(
    help="Out of hours: the live crisis watch, the handover to the day team, its acknowledgement."
)

Night = Annotated[
    str | None,
    typer.Option("--night", help="The night, by the date its shift starts (YYYY-MM-DD)."),
]


def _now() -> datetime:
    return datetime.now(UTC)


def _night(night: str | None, calendar: WorkingCalendar, settings: OohSettings) -> Shift | None:
    if night is None:
        return None
    try:
        day = date.fromisoformat(night)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{night!r} is not a date (YYYY-MM-DD)", param_hint="--night"
        ) from exc
    return shift_of_night(day, calendar, settings.office_hours())


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value if value is None or isinstance(value, str | int | bool | float) else str(value)


def _shift_text(shift: Shift) -> str:
    starts, ends = to_london(shift.starts_at), to_london(shift.ends_at)
    return f"{starts:%a %d %b %Y %H:%M} → {ends:%a %d %b %H:%M}"


# -- watch --------------------------------------------------------------------------------------


@ooh_app.command()
def watch(
    *,
    bootstrap: Bootstrap = None,
    database: Database = None,
    night: Night = None,
    worker: Annotated[
        str | None, typer.Option(help="Your name or id, recorded on every action (default: $USER).")
    ] = None,
) -> None:
    """The live crisis watch: newest and most urgent first; a = acknowledge, r = record action."""
    from services.outofhours.adapters.watch_feed import PostgresWatchFeed
    from services.outofhours.adapters.watch_view import WatchApp

    # a log line written under a full-screen view would tear it: only the view speaks
    configure_logging(level="CRITICAL")
    logging.disable(logging.ERROR)
    settings = OohSettings()
    calendar = WorkingCalendar.england_and_wales()
    office = settings.office_hours()
    fixed = _night(night, calendar, settings)
    endpoints = stack_endpoints(bootstrap, database)
    app = WatchApp(
        PostgresWatchFeed(endpoints, clock=_now),
        shift_of=lambda moment: shift_for(moment, calendar, office),
        worker=worker or getpass.getuser(),
        clock=_now,
        night=fixed,
        undo_seconds=settings.undo_seconds,
    )
    app.run()


# -- handover -----------------------------------------------------------------------------------


def handover_json(report: Any) -> dict[str, Any]:
    """The handover as plain data: the night, then each child's part in rank order."""
    shift = report.record.shift
    parts = []
    for part in report.parts:
        status = report.status.get(part.child_id)
        parts.append(
            {
                "rank": part.rank,
                "child_id": part.child_id,
                "urgency": part.urgency.value,
                "day_team_acknowledged_at": status.acknowledged_at if status else None,
                "items": [
                    {
                        "crisis_id": i.crisis_id,
                        "reason": i.reason.value,
                        "urgency": i.urgency.value,
                        "explanation": i.explanation,
                        "happened_at": i.happened_at,
                        "trigger_event_type": i.trigger_event_type,
                        "acknowledged_at": i.acknowledged_at,
                        "acknowledged_by": i.acknowledged_by,
                    }
                    for i in part.items
                ],
                "actions": [
                    {
                        "action_id": a.action_id,
                        "action_at": a.action_at,
                        "kind": a.kind.value,
                        "urgency": a.urgency.value,
                        "worker": a.worker,
                        "summary": a.summary,
                        "decision_reason": a.decision_reason,
                        "crisis_id": a.crisis_id,
                    }
                    for a in part.actions
                ],
            }
        )
    return {
        "night": shift.night.isoformat(),
        "handover_id": report.handover_id,
        "shift_started_at": shift.starts_at,
        "shift_ended_at": shift.ends_at,
        "due_by": shift.ends_at,
        "published_now": report.sent,
        "event_ids": [e.event_id for e in report.events],
        "parts": parts,
    }


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def handover_summary(report: Any, *, published: bool) -> str:
    """The last line: how many children, and what was (or, in a preview, would be) published —
    counted against the parts the record already holds, never guessed."""
    known = set().union(*(s.event_ids for s in report.status.values())) if report.status else set()
    already = sum(1 for e in report.events if e.event_id in known)
    children = _count(len(report.parts), "child", "children")
    if not published:
        waiting = len(report.events) - already
        return (
            f"{children}; preview only, nothing was published: "
            f"{_count(waiting, 'part', 'parts')} would be published, {already} already published."
        )
    return (
        f"{children}; {_count(report.sent, 'handover part', 'handover parts')} published now, "
        f"{already} already published."
    )


def print_handover(report: Any, *, team: str, published: bool = True) -> None:
    shift = report.record.shift
    console = Console()
    title = (
        f"Out-of-hours handover to {team}: night {_shift_text(shift)}, "
        f"due by {to_london(shift.ends_at):%a %d %b %H:%M}"
    )
    table = Table(title=title, show_lines=True)
    for col in ("#", "child", "urgency", "what", "when", "detail", "reasons for decisions"):
        table.add_column(col)
    for part in report.parts:
        rows: list[tuple[str, str, str, str]] = []
        for i in part.items:
            ack = (
                f"acknowledged {to_london(i.acknowledged_at):%H:%M} {i.acknowledged_by or ''}"
                if i.acknowledged_at
                else "NOT ACKNOWLEDGED by the duty worker"
            )
            what = f"crisis: {i.reason.value.replace('_', ' ')}\n{ack.strip()}"
            # the reasons for decisions belong to the actions below; a crisis item has none
            rows.append((what, f"{to_london(i.happened_at):%a %H:%M}", i.explanation, "—"))
        for a in part.actions:
            what = f"action: {a.kind.value.replace('_', ' ')} ({a.worker})"
            rows.append((what, f"{to_london(a.action_at):%a %H:%M}", a.summary, a.decision_reason))
        for n, (what, when, detail, reasons) in enumerate(rows):
            first = n == 0
            table.add_row(
                str(part.rank) if first else "",
                part.child_id if first else "",
                part.urgency.value if first else "",
                what,
                when,
                detail,
                reasons,
                style="bold red" if first and part.urgency.value == "immediate" else "",
            )
    console.print(table)
    if not report.parts:
        console.print("Nothing happened out of hours that night.")
    console.print(handover_summary(report, published=published))


@ooh_app.command()
def handover(
    *,
    bootstrap: Bootstrap = None,
    database: Database = None,
    night: Night = None,
    as_json: JsonOut = False,
    team: Annotated[
        str | None,
        typer.Option(help="The day team receiving it (default: $FRONTDOOR_OOH_DAY_TEAM)."),
    ] = None,
    publish: Annotated[
        bool, typer.Option("--publish/--no-publish", help="Publish it (default) or only preview.")
    ] = True,
) -> None:
    """Every item and action of the night, most urgent first, with the reasons for decisions."""
    from services.outofhours.bootstrap import open_ports
    from services.outofhours.handlers import publish_handover

    quiet_logs()  # the answer is the table or JSON, a failure one line
    settings = OohSettings()
    calendar = WorkingCalendar.england_and_wales()
    now = _now()
    office = settings.office_hours()
    named = _night(night, calendar, settings)
    endpoints = stack_endpoints(bootstrap, database)
    receiving = team or settings.day_team

    async def run() -> Any:
        async with open_ports(endpoints) as ports:
            shift = named
            if shift is None:
                owed = shift_to_hand_over(now, calendar, office)
                latest = await ports.reader.latest_active_night(owed.starts_at)
                shift = night_to_hand_over(
                    owed, latest, lambda moment: shift_for(moment, calendar, office)
                )
            return await publish_handover(
                ports.reader, ports.announcements, shift, team=receiving, at=now, publish=publish
            )

    report = asyncio.run(run())
    if as_json:
        typer.echo(json.dumps(_plain(handover_json(report)), indent=2))
    else:
        print_handover(report, team=receiving, published=publish)


# -- ack ----------------------------------------------------------------------------------------


@ooh_app.command()
def ack(
    *,
    team: Annotated[str, typer.Option(help="The day team acknowledging the handover.")],
    bootstrap: Bootstrap = None,
    database: Database = None,
    night: Night = None,
    worker: Annotated[
        str | None, typer.Option(help="Who acknowledges it (default: $USER).")
    ] = None,
    child: Annotated[
        list[str] | None,
        typer.Option("--child", help="Only this child's part (repeatable); default: all."),
    ] = None,
    as_json: JsonOut = False,
) -> None:
    """The day team acknowledges the night's handover (meets its 09:00 clock)."""
    from services.outofhours.adapters.teams import known_teams
    from services.outofhours.bootstrap import open_ports
    from services.outofhours.handlers import NoHandoverError, acknowledge_handover

    quiet_logs()  # the answer is the table or JSON, a failure one line
    settings = OohSettings()
    calendar = WorkingCalendar.england_and_wales()
    now = _now()
    shift = _night(night, calendar, settings) or shift_to_hand_over(
        now, calendar, settings.office_hours()
    )
    endpoints = stack_endpoints(bootstrap, database)
    known = asyncio.run(known_teams(endpoints.database_url, (settings.day_team, "MASH")))
    if team not in known:
        shown = ", ".join(known[:20]) + (f" … ({len(known)} in all)" if len(known) > 20 else "")
        typer.secho(
            f"unknown team {team!r}: give one of the teams frontdoor knows ({shown})",
            fg="red",
            err=True,
        )
        raise typer.Exit(2)

    async def run() -> Any:
        async with open_ports(endpoints) as ports:
            return await acknowledge_handover(
                ports.reader,
                ports.announcements,
                shift,
                team=team,
                worker=worker or getpass.getuser(),
                at=now,
                children=tuple(child or ()),
            )

    try:
        events = asyncio.run(run())
    except NoHandoverError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps(_plain([e.model_dump() for e in events]), indent=2))
        return
    typer.echo(
        f"acknowledged {len(events)} handover part(s) for the night {_shift_text(shift)}"
        + (f": {', '.join(e.subject.child_id for e in events)}" if events else "")
    )


if __name__ == "__main__":  # `python -m services.cli.ooh …` before it is mounted in main
    ooh_app()
