"""The regular expressions the API document states agree with the checks the service runs."""

from __future__ import annotations

import re
import sys

import pytest

from feature_gateway.domain.names import (
    FEATURE_NAME_PORTABLE_PATTERN,
    MAX_FEATURE_NAME_LENGTH,
    is_valid_feature_name,
)
from feature_gateway.domain.text import (
    _WHITESPACE_CLASS,
    NON_BLANK_TEXT_PATTERN,
    NUL_FREE_TEXT_PATTERN,
    has_nul,
    is_blank,
)


def test_the_whitespace_class_is_exactly_what_strip_removes() -> None:
    whitespace = re.compile(f"[{_WHITESPACE_CLASS}]")
    for code_point in range(sys.maxunicode + 1):
        character = chr(code_point)
        assert bool(whitespace.fullmatch(character)) == character.isspace(), hex(code_point)


TEXTS = [
    "",
    " ",
    "a",
    " a ",
    "\t\n",
    "x\n",
    "\n",
    "\u3000",
    "\x1c\x1d",
    "\u00a0b",
    "\x00",
    "a\x00",
    "\x00 ",
    "d\u00e9j\u00e0 \U0001f600",
    "\u200b",
    "\ufeff",
    "\u180e",
    "\x85",
]


@pytest.mark.parametrize("text", TEXTS)
def test_the_non_blank_pattern_accepts_what_the_service_accepts(text: str) -> None:
    accepted = not is_blank(text) and not has_nul(text)
    assert bool(re.search(NON_BLANK_TEXT_PATTERN, text)) == accepted


@pytest.mark.parametrize("text", TEXTS)
def test_the_nul_free_pattern_accepts_what_the_service_accepts(text: str) -> None:
    assert bool(re.search(NUL_FREE_TEXT_PATTERN, text)) == (not has_nul(text))


NAMES = [
    "driver_hourly_stats:conv_rate:1",
    "a:b:v2",
    "_:_:10",
    "A1:b_2:v999",
    "a:b:0",
    "a:b:01",
    "a:b:v",
    "a:b",
    "1a:b:1",
    "a:b:1:2",
    "a:b:1\n",
    "\na:b:1",
    " a:b:1",
    "a:b:1 ",
    "a-b:c:1",
    "a:b:V1",
    "\u00e9:b:1",
    "a:b:\u0661",
    "",
    "v" * 120 + ":" + "f" * 120 + ":1",
    "v" * 200 + ":" + "f" * 100 + ":1",
]


@pytest.mark.parametrize("name", NAMES)
def test_the_portable_name_pattern_accepts_what_the_service_accepts(name: str) -> None:
    # In ECMA-262, the dialect of JSON Schema, `$` ends the input; Python's `$` also matches
    # before a final newline, which `\Z` does not.
    documented = (
        bool(re.search(FEATURE_NAME_PORTABLE_PATTERN.replace("$", r"\Z"), name))
        and len(name) <= MAX_FEATURE_NAME_LENGTH
    )
    assert documented == is_valid_feature_name(name)
