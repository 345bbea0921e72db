"""Tags: a feature's labels ``{key: value}`` (SPEC §8), and the tag filters of the lists.

A feature carries at most 20 tags; keys are short lower-case identifiers, values any text of
up to 255 characters without NUL (the empty string included). A filter names pairs that must
all match; a key without a value (``None``) means "has this key, whatever its value".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from feature_gateway.domain.text import has_nul

MAX_TAGS = 20
MAX_TAG_KEY_LENGTH = 63
MAX_TAG_VALUE_LENGTH = 255
# Portable (Python and ECMA-262) so that the API document states the rule exactly.
TAG_KEY_PORTABLE_PATTERN = r"^[a-z][a-z0-9_.-]{0,62}$"
_TAG_KEY = re.compile(r"[a-z][a-z0-9_.-]{0,62}")
TAG_KEY_RULE = (
    "a tag key starts with a lower-case letter followed by at most 62 lower-case letters, "
    "digits, '_', '.' or '-'"
)
TAG_VALUE_RULE = f"a tag value is a string of 0 to {MAX_TAG_VALUE_LENGTH} characters without NUL"
# GET ?tag=k:v,k2:v2 — pairs split at the first of these, key and value at the second.
TAG_PAIR_SEPARATOR = ","
TAG_KEY_VALUE_SEPARATOR = ":"

# (key, value) pairs that must all match; a value of None means "has the key".
TagFilter = tuple[tuple[str, str | None], ...]


def is_valid_tag_key(key: object) -> bool:
    return isinstance(key, str) and _TAG_KEY.fullmatch(key) is not None


def tag_value_problem(value: object) -> str | None:
    """Why ``value`` cannot be a tag value, or None when it can."""
    if not isinstance(value, str):
        return f"Not a string: {TAG_VALUE_RULE}."
    if len(value) > MAX_TAG_VALUE_LENGTH:
        return f"Longer than {MAX_TAG_VALUE_LENGTH} characters: {TAG_VALUE_RULE}."
    if has_nul(value):
        return f"Contains NUL: {TAG_VALUE_RULE}."
    return None


def too_many_tags(count: int) -> dict[str, str]:
    """The one problem of an object of ``count`` tags, more than MAX_TAGS (none if not)."""
    return {"_count": f"At most {MAX_TAGS} tags; got {count:,}."} if count > MAX_TAGS else {}


def tag_problems(tags: Mapping[Any, Any]) -> dict[str, str]:
    """Every broken rule of a tag object, keyed by the offending key; empty when valid.

    Too many tags is the only problem reported then: the keys of an object of 100,000 tags
    are not each checked (one message per key makes the answer ten times the request:
    docs/performance.md, "Figures behind the code")."""
    if len(tags) > MAX_TAGS:
        return too_many_tags(len(tags))
    problems: dict[str, str] = {}
    for key, value in tags.items():
        if not is_valid_tag_key(key):
            problems[str(key)] = f"Invalid tag key {key!r}: {TAG_KEY_RULE}."
        elif (problem := tag_value_problem(value)) is not None:
            problems[str(key)] = f"Invalid value for tag {key!r}. {problem}"
    return problems


class TagFilterSyntaxError(ValueError):
    """A GET ``tag=`` parameter that does not spell ``k:v,k2:v2`` pairs."""


def tag_filter_problems(pairs: Sequence[tuple[Any, Any]]) -> list[str]:
    """Every broken rule of a tag filter: at most MAX_TAGS pairs (when there are more, that
    is the only problem reported), valid keys, and values that are valid tag values or None
    ("has the key")."""
    if len(pairs) > MAX_TAGS:
        return [f"At most {MAX_TAGS} tag pairs; got {len(pairs):,}."]
    problems = []
    for key, value in pairs:
        if not is_valid_tag_key(key):
            problems.append(f"Invalid tag key {key!r}: {TAG_KEY_RULE}.")
        elif value is not None and (problem := tag_value_problem(value)) is not None:
            problems.append(f"Invalid value for tag {key!r}. {problem}")
    return problems


def parse_tag_filter(text: str) -> TagFilter:
    """``"team:search,pii"`` → ``(("team", "search"), ("pii", None))``.

    Pairs are split at ``,``; key and value at the first ``:`` (so values may hold ``:``
    but not ``,``); a pair without ``:`` asks only for the key. All pairs must match, so a
    key given twice with two values matches nothing.
    """
    pairs: list[tuple[str, str | None]] = []
    for pair in text.split(TAG_PAIR_SEPARATOR):
        key, separator, value = pair.partition(TAG_KEY_VALUE_SEPARATOR)
        pairs.append((key, value if separator else None))
    problems = tag_filter_problems(pairs)
    if problems:
        raise TagFilterSyntaxError(" ".join(problems))
    return tuple(pairs)


_PORTABLE_PAIR = rf"[a-z][a-z0-9_.-]{{0,62}}(:[^,\u0000]{{0,{MAX_TAG_VALUE_LENGTH}}})?"
# The whole GET rule as a pattern that reads alike in Python and ECMA-262.
TAG_FILTER_PORTABLE_PATTERN = rf"^{_PORTABLE_PAIR}(,{_PORTABLE_PAIR}){{0,{MAX_TAGS - 1}}}$"
