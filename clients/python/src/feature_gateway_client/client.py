"""The client: the generated operations, plus who acts, and the event feed as an iterator."""

from __future__ import annotations

import copy
from dataclasses import replace
from types import TracebackType
from typing import Self

import httpx

from feature_gateway_client._operations import Operations
from feature_gateway_client._transport import Identity, RetryPolicy, TokenSource
from feature_gateway_client._version import __version__
from feature_gateway_client.events import EventStream


class Client(Operations):
    """A Feature Metadata Gateway client: one method per operation of the API.

    ``token``: an API token (``fmg_…``), or a callable returning a fresh JWT; it is asked
    before every attempt, and once more after a 401. ``role`` and ``actor``: in trust mode,
    the role and the name each call claims (filled into ``user_role`` and the actor field of
    each write unless given); with a token, leave them out. ``retry``: the deadline of
    each call, its attempts' timeout and the backoff between them.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: TokenSource | None = None,
        role: str | None = None,
        actor: str | None = None,
        retry: RetryPolicy | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        owns = http is None
        if http is None:
            headers = {"User-Agent": f"feature-gateway-client/{__version__}"}
            http = httpx.Client(base_url=base_url, headers=headers, follow_redirects=False)
        super().__init__(http, Identity(token, role, actor), retry or RetryPolicy(), owns)

    def acting_as(self, *, role: str | None = None, actor: str | None = None) -> Self:
        """The same client (connections shared) claiming another role and name (trust mode)."""
        other = copy.copy(self)
        other._identity = replace(self._identity, role=role, actor=actor)
        other._owns_http = False  # closed by this one
        return other

    def events(
        self,
        after: str | None = None,
        *,
        types: list[str] | None = None,
        feature_name: str | None = None,
        page_size: int = 100,
        follow: bool = False,
        poll_interval_s: float = 2.0,
    ) -> EventStream:
        """The event feed from ``after`` on (the beginning without it), oldest first: every
        event once, in commit order. ``stream.cursor`` is where to resume after the last
        event yielded. With ``follow``, waits for new events instead of stopping at the end.
        """
        return EventStream(
            self.list_events, after=after, types=",".join(types) if types else None,
            feature_name=feature_name, page_size=page_size, follow=follow,
            poll_interval_s=poll_interval_s,
        )  # fmt: skip

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
