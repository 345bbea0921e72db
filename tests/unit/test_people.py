"""Names of people and when two name one person (SPEC §2)."""

from __future__ import annotations

import re

import pytest

from feature_gateway.domain.identity import same_person
from feature_gateway.domain.text import NAME_PATTERN, name_problem

SAME = [
    ("alice", "Alice"),
    ("STRASSE", "straße"),  # case folding, not lower()
    ("alice", "\uff41\uff4c\uff49\uff43\uff45"),  # fullwidth: NFKC
    ("alice", "\u0430lice"),  # Cyrillic a: TR39 skeleton
    ("ALICE", "\u0430lice"),  # only the folded skeletons meet
    ("paypal", "paypaI"),  # capital I for l
    ("bob1", "bobl"),  # digit one for l
    ("alice smith", "alice\u00a0smith"),  # a no-break space inside: NFKC
    ("alice", "alice "),  # names stored before the rule still meet their person
]
DIFFERENT = [("alice", "alicia"), ("alice", "bob"), ("erin", "frank"), ("anna", "hanna")]


@pytest.mark.parametrize(("one", "other"), SAME)
def test_names_that_fold_or_look_alike_are_one_person(one: str, other: str) -> None:
    assert same_person(one, other) and same_person(other, one)


@pytest.mark.parametrize(("one", "other"), DIFFERENT)
def test_different_names_are_different_people(one: str, other: str) -> None:
    assert not same_person(one, other)


def test_nobody_is_the_same_person_as_no_one() -> None:
    assert not same_person(None, "alice") and not same_person("alice", None)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("alice", None),
        ("al ice", None),
        ("", "blank"),
        ("   ", "blank"),
        ("alice\t", "white space"),
        ("\u3000alice", "white space"),
        ("ali\u200bce", "U+200B (ZERO WIDTH SPACE)"),
        ("alice\U000e0020", "U+E0020"),
        ("a\x00b", "U+0000"),
    ],
)
def test_the_name_rule_says_what_is_wrong(name: str, problem: str | None) -> None:
    found = name_problem(name)
    assert found is None if problem is None else problem in (found or "")


def test_the_documented_pattern_agrees_with_the_rule_on_every_bmp_character() -> None:
    pattern = re.compile(NAME_PATTERN)
    for point in range(0x10000):
        if 0xD800 <= point <= 0xDFFF:
            continue  # surrogates are no characters of a JSON string
        char = chr(point)
        for name in (f"a{char}b", f"{char}b", f"a{char}"):
            assert (pattern.fullmatch(name) is not None) == (name_problem(name) is None), name
