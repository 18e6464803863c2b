"""Annex A headings and codes against the published list definitions in the liiatools wheel.

liiatools 0.2.0 (installed with ``--no-deps``: only its YAML is read) ships the Annex A
definitions as ``spec/annex_a/la-agg.yml`` (each list's columns in order, plus the ``LA`` column
its own aggregation adds) and ``spec/annex_a/data-map.yml`` (the coded values of each coded
column). Two documented differences: liiatools labels NOBT ``s)`` like REFU, where the Annex A
letters run on to ``t)``; and the CIN census code 5D (early help), added after its source list
was written, is ``p1) 5D: LA services`` here.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.returns.domain import annex_a_codes as codes

LISTS = (1, 3, 4, 5, 7)
KNOWN_DIFFERENCES = {"t) NOBT": "s) NOBT", "p1) 5D: LA services": None}


@cache
def spec(name: str) -> dict[str, Any]:
    found = importlib.util.find_spec("liiatools")
    assert found is not None, "install liiatools==0.2.0 --no-deps: its YAML is the outside check"
    (root,) = found.submodule_search_locations or []
    loaded: dict[str, Any] = yaml.safe_load((Path(root) / "spec" / "annex_a" / name).read_text())
    return loaded


def ours_for(heading: str) -> set[str]:
    if heading == "Gender":
        return set(codes.GENDER.values())
    if heading == "Ethnicity":
        return set(codes.ETHNICITY.values())
    if heading in ("Contact Source", "Referral Source"):
        return set(codes.SOURCE.values())
    if "Category of Abuse" in heading:
        return set(codes.CATEGORY.values())
    return {codes.YES, codes.NO, codes.UNKNOWN}


def normalise(heading: str) -> str:
    return heading.rstrip("?").strip()


@pytest.mark.parametrize("number", LISTS)
def test_headings_are_the_published_columns_in_the_published_order(number: int) -> None:
    published = [h for h in spec("la-agg.yml")["sort_order"][f"List {number}"] if h != "LA"]
    assert list(codes.HEADINGS[number]) == published


@pytest.mark.parametrize("number", LISTS)
def test_every_coded_column_uses_only_published_codes(number: int) -> None:
    columns: dict[str, list[dict[str, str]]] = spec("data-map.yml")["data_config"][f"List {number}"]
    ours_headings = {normalise(h): h for h in codes.HEADINGS[number]}
    for column, entries in columns.items():
        assert normalise(column) in ours_headings, f"{column} is not a List {number} heading"
        published = {str(e["code"]) for e in entries}
        for value in ours_for(column):
            if value in KNOWN_DIFFERENCES:
                expected = KNOWN_DIFFERENCES[value]
                assert expected is None or expected in published
                continue
            assert value in published, f"List {number} {column}: {value!r} is not published"


def test_yes_no_and_categories_are_exactly_the_published_sets() -> None:
    data = spec("data-map.yml")["data_config"]
    assert {e["code"] for e in data["List 3"]["Referral NFA?"]} == {codes.YES, codes.NO, codes.UNKNOWN}
    published = {e["code"] for e in data["List 7"]["Initial Category of Abuse"]}
    assert published == set(codes.CATEGORY.values())


def test_every_published_source_but_none_other_is_produced() -> None:
    published = {e["code"] for e in spec("data-map.yml")["data_config"]["List 1"]["Contact Source"]}
    assert set(codes.SOURCE.values()) - published == {"p1) 5D: LA services"}
    assert published <= set(codes.SOURCE.values())
