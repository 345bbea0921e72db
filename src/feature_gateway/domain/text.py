"""Rules for the free text the service stores: names of people, descriptions, notes.

Text must not be blank, and must not contain NUL, which PostgreSQL cannot store in a text
column (SQLite can: the rule keeps both backends alike). Names of people (actors, principals,
owners) also have no white space at either end and no control or format characters (Unicode
categories Cc and Cf, e.g. U+200B ZERO WIDTH SPACE): invisible differences make two names
that look alike (SPEC §2). Each rule is also written as a regular expression that reads alike
in Python and ECMA-262 (the dialect of JSON Schema), so the API document states it and
generated clients can check it before sending.
"""

from __future__ import annotations

import unicodedata

# The characters str.isspace() accepts, i.e. what str.strip() removes, as a regex class body.
_WHITESPACE_CLASS = (
    r"\u0009-\u000d\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
)
NUL = "\x00"

# No NUL anywhere, and at least one character that is not whitespace.
NON_BLANK_TEXT_PATTERN = rf"^[^\u0000]*[^\u0000{_WHITESPACE_CLASS}][^\u0000]*$"
# No NUL anywhere (the empty string is fine).
NUL_FREE_TEXT_PATTERN = r"^[^\u0000]*$"


# The longest name of a person or a group (the columns that store them hold this many).
MAX_NAME_LENGTH = 255

# Unicode categories a name may not hold anywhere: control and format characters.
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf"})


def _class_body(codepoints: list[int]) -> str:
    """``[0, 1, 2, 5]`` as the regex class body ``\\u0000-\\u0002\\u0005``."""
    ranges: list[list[int]] = []
    for point in codepoints:
        if ranges and ranges[-1][1] == point - 1:
            ranges[-1][1] = point
        else:
            ranges.append([point, point])
    return "".join(
        f"\\u{low:04x}" + (f"-\\u{high:04x}" if high > low else "") for low, high in ranges
    )


# Derived from the Unicode database, not listed by hand. The pattern covers the Basic
# Multilingual Plane: ECMA-262 (without the u flag) cannot name a character beyond it; the
# few format characters there (U+E0001, tag characters, ...) are refused by name_problem.
_INVISIBLE_CLASS = _class_body(
    [p for p in range(0x10000) if unicodedata.category(chr(p)) in INVISIBLE_CATEGORIES]
)
# No control or format character; no white space at either end; not empty.
NAME_PATTERN = (
    rf"^[^{_WHITESPACE_CLASS}{_INVISIBLE_CLASS}]"
    rf"(?:[^{_INVISIBLE_CLASS}]*[^{_WHITESPACE_CLASS}{_INVISIBLE_CLASS}])?$"
)
NAME_RULE = (
    "a name has no white space at either end and no control or format characters "
    "(Unicode Cc or Cf, such as U+200B ZERO WIDTH SPACE)"
)


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a person, or None when it can (SPEC §2)."""
    if is_blank(name):
        return "Must not be blank."
    if name != name.strip():
        return f"Must not begin or end with white space: {NAME_RULE}."
    invisible = next((c for c in name if unicodedata.category(c) in INVISIBLE_CATEGORIES), None)
    if invisible is not None:
        return (
            f"Must not contain the invisible character U+{ord(invisible):04X} "
            f"({unicodedata.name(invisible, 'unnamed')}): {NAME_RULE}."
        )
    return None


def is_blank(text: str) -> bool:
    return not text.strip()


def has_nul(text: str) -> bool:
    return NUL in text
