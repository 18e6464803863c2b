"""``frontdoor returns csww --year YYYY``: the CSWW census XML for the year ending 30 September.

Reads the workforce events from the ``events`` history, folds them (``services/returns/domain/
csww.py``), validates against the liiatools 2022 XSD and writes the file; every worker left out
is listed with the missing item. ``NumberOfVacancies`` is not in the history: ``--vacancies``.
A bad year is one line and exit code 2.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from lxml import etree

from schemas.topics import WORKFORCE
from services.cli.options import Database, database_url
from services.returns.csww_xml import csww_document, schema
from services.returns.domain.csww import worker_records

_TYPES = [t for t in WORKFORCE.event_types if t.startswith(("worker.", "child.", "asye."))]


async def _read(dsn: str) -> list[object]:
    import asyncpg
    import orjson

    from schemas.registry import parse_event

    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT body::text AS body FROM events WHERE event_type = ANY($1::text[])", _TYPES
        )
    finally:
        await conn.close()
    return [parse_event(orjson.loads(r["body"])) for r in rows]


def csww_command(
    year: Annotated[int, typer.Option(help="Census year: the year ending 30 September YYYY.")],
    out: Annotated[Path, typer.Option(help="Where to write the XML.")] = Path("csww.xml"),
    lea: Annotated[str, typer.Option(help="The LA's three-digit DfE code.")] = "999",
    vacancies: Annotated[str, typer.Option(help="NumberOfVacancies (FTE), not in history.")] = "0",
    database: Database = None,
) -> None:
    """The children's social work workforce census XML (DfE 2022 specification)."""
    if not 2017 <= year <= 2100 or not (lea.isdigit() and len(lea) == 3):
        typer.secho("--year must be 2017 or later and --lea three digits", fg="red", err=True)
        raise typer.Exit(2)
    records, issues = worker_records(asyncio.run(_read(database_url(database))), year)  # type: ignore[arg-type]
    doc = csww_document(records, year=year, lea=lea, vacancies=Decimal(vacancies))
    xsd = schema()
    if not xsd.validate(doc):
        typer.secho(f"the export does not validate: {xsd.error_log}", fg="red", err=True)
        raise typer.Exit(1)
    out.write_bytes(etree.tostring(doc, xml_declaration=True, encoding="UTF-8", pretty_print=True))
    for issue in issues:
        typer.echo(issue)
    typer.echo(f"wrote {out}: {len(records)} workers, {len(issues)} left out (see above)")
