"""Rules for the free text the service stores: names of people, descriptions, notes.

Text must not be blank, and must not contain NUL, which PostgreSQL cannot store in a text
column (SQLite can: the rule keeps both backends alike). Each rule is also written as a
regular expression that reads alike in Python and ECMA-262 (the dialect of JSON Schema), so
the API document states it exactly and generated clients can check it before sending.
"""

from __future__ import annotations

# The characters str.isspace() accepts, i.e. what str.strip() removes, as a regex class body.
_WHITESPACE_CLASS = (
    r"\u0009-\u000d\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
)
NUL = "\x00"

# No NUL anywhere, and at least one character that is not whitespace.
NON_BLANK_TEXT_PATTERN = rf"^[^\u0000]*[^\u0000{_WHITESPACE_CLASS}][^\u0000]*$"
# No NUL anywhere (the empty string is fine).
NUL_FREE_TEXT_PATTERN = r"^[^\u0000]*$"


def is_blank(text: str) -> bool:
    return not text.strip()


def has_nul(text: str) -> bool:
    return NUL in text
