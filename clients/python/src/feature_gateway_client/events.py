"""The event feed as an iterator that follows ``next_cursor`` and can say where it is.

The feed hands out a cursor per page. The cursor after an event in the middle of a page is
asked for only when wanted: the feed from the page's own cursor, limited to the events
already yielded, ends exactly there (events are never inserted before a cursor), so the
iterator never decodes or builds a cursor itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from feature_gateway_client.models import Event, Events


class EventStream:
    """Iterate to get events; read ``cursor`` to store where to resume (``after=``)."""

    def __init__(
        self,
        list_events: Callable[..., Events],
        *,
        after: str | None,
        types: str | None,
        feature_name: str | None,
        page_size: int,
        follow: bool,
        poll_interval_s: float,
    ) -> None:
        self._list = list_events
        self._filters: dict[str, Any] = {"type": types, "feature_name": feature_name}
        self._page_size, self._follow, self._poll_s = page_size, follow, poll_interval_s
        self._start = after  # the cursor the current page was asked with
        self._page: list[Event] = []
        self._next: str | None = after  # the current page's next_cursor
        self._yielded = 0  # events of the current page already yielded
        self._cursor_cache: tuple[int, str | None] | None = None

    @property
    def cursor(self) -> str | None:
        """Where the feed continues after the last event yielded (None: the beginning)."""
        if self._yielded == len(self._page):
            return self._next
        if self._yielded == 0:
            return self._start
        if self._cursor_cache is None or self._cursor_cache[0] != self._yielded:
            prefix = self._list(after=self._start, limit=self._yielded, **self._filters)
            self._cursor_cache = (self._yielded, prefix.next_cursor)
        return self._cursor_cache[1]

    def __iter__(self) -> Iterator[Event]:
        while True:
            page = self._list(after=self._next, limit=self._page_size, **self._filters)
            self._start, self._page, self._yielded = self._next, list(page.events), 0
            self._next, self._cursor_cache = page.next_cursor, None
            for event in self._page:
                self._yielded += 1
                yield event
            if len(self._page) < self._page_size:  # caught up
                if not self._follow:
                    return
                time.sleep(self._poll_s)
