"""Who reads what (SPEC §13): read counts per feature, consumer and UTC day, and the rule
they feed, the retirement guard."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from feature_gateway.domain.feature_refs import rfc3339

DAY_MS = 86_400_000
# The consumer of a read in trust mode, where nobody is verified: a claimed name would let
# anyone make a feature look unused, or used, by someone else.
ANONYMOUS = "anonymous"
MAX_USAGE_DAYS = 366
DEFAULT_USAGE_DAYS = 30
# RETIRE_QUIET_DAYS' default: how long a feature must have gone unread to be retired.
DEFAULT_QUIET_DAYS = 7


def utc_day(epoch_ms: int) -> int:
    """The UTC day of a time, as days since 1970-01-01."""
    return epoch_ms // DAY_MS


def first_day_of(days: int, now_ms: int) -> int:
    """The first UTC day of the last ``days`` days, today included."""
    return utc_day(now_ms) - (days - 1)


@dataclass(frozen=True)
class ConsumerUsage:
    principal: str
    reads: int
    first_read_time: int
    last_read_time: int


def quiet_since(now_ms: int, quiet_days: int) -> int:
    """The start of the quiet period a feature must have gone unread for to be retired."""
    return now_ms - quiet_days * DAY_MS


def readers_sentence(readers: Sequence[ConsumerUsage]) -> str:
    """``ranker (120 reads), scorer (3 reads)``, the busiest first."""
    return ", ".join(
        f"{r.principal} ({r.reads:,} read{'s' if r.reads != 1 else ''})" for r in readers
    )


def still_read_detail(
    feature_name: str, trigger: str, readers: Sequence[ConsumerUsage], since: int
) -> str:
    """Why a guarded trigger is refused: who read the feature since ``since``, and last."""
    last = max(readers, key=lambda reader: reader.last_read_time)
    return (
        f"Feature '{feature_name}' is still read: since {rfc3339(since)} by "
        f"{readers_sentence(readers)}; last read {rfc3339(last.last_read_time)} by "
        f"{last.principal}. Move them off it first, or {trigger} it anyway with "
        '"force": true and a reason.'
    )
