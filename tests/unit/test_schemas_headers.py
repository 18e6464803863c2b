"""Kafka headers under the text rule: names and values must be UTF-8 text; reasons never quote
the value."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.headers import check_header, check_headers
from schemas.text import FORBIDDEN_CHARACTERS

SECRET = "Jane Doe 2017-05-01"


@pytest.mark.parametrize(
    "value",
    [b"", b"validation", "Siân ap Llŷr".encode(), "Łukasz 😀".encode(), b"a\tb\r\nc", None],
)
def test_utf8_text_values_and_null_values_are_accepted(value: bytes | None) -> None:
    assert check_header("dlq.reason", value) is None


def test_a_bytes_name_that_is_utf8_text_is_accepted() -> None:
    assert check_header(b"trace-id", b"abc") is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (SECRET.encode() + b"\x00", "control character U+0000 is not allowed in text"),
        (SECRET.encode() + b"\x1b[31m", "control character U+001B is not allowed in text"),
        ((SECRET + "\ufffe").encode(), "noncharacter U+FFFE is not allowed in text"),
        ((SECRET + "\uffff").encode(), "noncharacter U+FFFF is not allowed in text"),
    ],
)
def test_a_value_with_a_forbidden_character_is_refused_naming_header_and_rule(
    value: bytes, reason: str
) -> None:
    assert check_header("x-child", value) == f"header 'x-child' value: {reason}"


@pytest.mark.parametrize(
    "value",
    [
        SECRET.encode() + b"\xff",  # not UTF-8 at all
        SECRET.encode() + b"\xed\xa0\x80",  # an encoded surrogate (CESU-8 style)
        SECRET.encode()[:-1] + b"\xc3",  # truncated sequence
    ],
)
def test_a_value_that_is_not_utf8_is_refused(value: bytes) -> None:
    assert check_header("x-child", value) == "header 'x-child' value is not valid UTF-8"


def test_a_name_with_a_nul_is_refused_without_showing_the_name() -> None:
    reason = check_header(f"{SECRET}\x00", b"ok")
    assert reason == "a header name: control character U+0000 is not allowed in text"


def test_a_bytes_name_that_is_not_utf8_is_refused() -> None:
    assert check_header(b"\xffname", b"ok") == "a header name is not valid UTF-8"


def test_a_long_name_is_cut_in_the_reason() -> None:
    reason = check_header("h" * 500, b"\x00")
    assert reason is not None
    assert len(reason) < 150


def test_check_headers_reports_the_first_bad_header_and_passes_clean_lists() -> None:
    assert check_headers([("a", b"1"), ("b", None)]) is None
    assert check_headers(None) is None
    assert check_headers([("a", b"1"), ("b", b"\x00"), ("c", b"\xff")]) == (
        "header 'b' value: control character U+0000 is not allowed in text"
    )


@given(name=st.text(max_size=20), value=st.binary(max_size=40))
def test_a_reason_never_contains_the_value_and_is_itself_clean_text(
    name: str, value: bytes
) -> None:
    reason = check_header(name, value)
    try:
        text: str | None = value.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    name_ok = FORBIDDEN_CHARACTERS.search(name) is None
    value_ok = text is not None and FORBIDDEN_CHARACTERS.search(text) is None
    assert (reason is None) == (name_ok and value_ok)
    if reason is not None:
        assert FORBIDDEN_CHARACTERS.search(reason) is None
        if text and len(text) > 3 and text not in name:
            assert text not in reason
