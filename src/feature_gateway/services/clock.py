from __future__ import annotations

import time


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds, the unit of every time in the API."""
    return time.time_ns() // 1_000_000
