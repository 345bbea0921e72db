"""Feature references as Feast's feature-server protocol spells them (SPEC §13).

A ref names a feature of a view in one of three ways:

- ``view:feature``: the served version of that view and feature with the highest number;
- ``view@vN:feature``: version N (Feast's syntax for a pinned version);
- ``view:feature:N`` (or ``:vN``): the full name of version N, as everywhere else.

A ref's column in the response is named ``feature``, or with ``full_feature_names``
``view__feature``; a pinned ref then keeps its version, ``view@vN__feature``, as Feast
0.67's own server names it, so that two versions of one feature can be asked for at once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from feature_gateway.domain.names import MAX_FEATURE_NAME_LENGTH

_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_NUMBER = r"[1-9][0-9]*"
# A version is pinned one way or the other, never both.
REF_PATTERN = re.compile(
    rf"(?P<view>{_IDENTIFIER})(?:@v(?P<pinned>{_NUMBER}):(?P<pinned_feature>{_IDENTIFIER})"
    rf"|:(?P<feature>{_IDENTIFIER})(?::v?(?P<version>{_NUMBER}))?)"
)
REF_RULE = (
    "a feature reference is 'view:feature' (its served version with the highest number), "
    "'view@vN:feature' (version N) or a full feature name 'view:feature:N', where view and "
    "feature match [A-Za-z_][A-Za-z0-9_]*, at most "
    f"{MAX_FEATURE_NAME_LENGTH} characters"
)
INVALID_REF = f"Invalid feature reference: {REF_RULE}."
# The same rule for JSON Schema (ECMA-262 reads it alike); the length limit is stated apart.
REF_PORTABLE_PATTERN = rf"^{_IDENTIFIER}(@v{_NUMBER}:{_IDENTIFIER}|:{_IDENTIFIER}(:v?{_NUMBER})?)$"


# The names derived from a ref are kept with it (``cached_property``: the instance's own
# ``__dict__``, so a frozen dataclass takes them): ``parse_ref`` keeps the refs themselves,
# and a Feast request asks each for them several times, request after request.
@dataclass(frozen=True)
class FeatureRef:
    ref: str  # as the request spelled it
    view: str
    feature: str
    version: int | None  # None: the served version with the highest number

    @functools.cached_property
    def family(self) -> str:
        """``view:feature``: what every version of the feature shares."""
        return f"{self.view}:{self.feature}"

    @functools.cached_property
    def full_name(self) -> str | None:
        """The feature name of the pinned version; None for an unpinned ref."""
        return None if self.version is None else f"{self.family}:{self.version}"

    def column_name(self, full_feature_names: bool) -> str:
        return self._full_column_name if full_feature_names else self.feature

    @functools.cached_property
    def _full_column_name(self) -> str:
        pinned = "" if self.version is None else f"@v{self.version}"
        return f"{self.view}{pinned}__{self.feature}"


@functools.lru_cache(maxsize=2048)
def parse_ref(ref: str) -> FeatureRef | None:
    """The feature a ref names, or None when it is not a ref. A request's refs are parsed
    by its validation and again by the view, and the same refs come request after request:
    the answers (frozen) are kept."""
    if len(ref) > MAX_FEATURE_NAME_LENGTH:
        return None
    match = REF_PATTERN.fullmatch(ref)
    if match is None:
        return None
    number = match["pinned"] or match["version"]
    feature = match["pinned_feature"] or match["feature"]
    return FeatureRef(ref, match["view"], feature, int(number) if number else None)


def column_collisions(
    entity_keys: Sequence[str], refs: Sequence[FeatureRef], full_feature_names: bool
) -> list[str]:
    """The column names more than one column of the response would have, sorted."""
    seen: set[str] = set()
    repeated: set[str] = set()
    for name in (*entity_keys, *(ref.column_name(full_feature_names) for ref in refs)):
        (repeated if name in seen else seen).add(name)
    return sorted(repeated)


# A Feast answer writes each time bucket's start (a day, a minute or a second long: the same
# ones request after request) and the request's time: the strings are kept.
@functools.lru_cache(maxsize=1024)
def rfc3339(epoch_ms: int) -> str:
    """``2025-07-02T00:00:00Z``; with milliseconds (``.123Z``) when there are some, as
    Feast's server writes protobuf timestamps."""
    seconds, millis = divmod(epoch_ms, 1000)
    at = datetime.fromtimestamp(seconds, UTC)
    # strftime("%Y-%m-%dT%H:%M:%S") written out, at half its cost: the year unpadded as
    # glibc's %Y writes it (compared over years 1 to 9999)
    text = f"{at.year}-{at.month:02d}-{at.day:02d}T{at.hour:02d}:{at.minute:02d}:{at.second:02d}"
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"
