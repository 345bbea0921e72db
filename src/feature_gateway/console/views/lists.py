"""The feature list with its search form, the header's search, and the review queue of
each of the person's roles. Read on the primary (LATEST), as the feature page is
(``console.pages``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from feature_gateway.console import identity, may_act
from feature_gateway.console.blueprint import blueprint
from feature_gateway.console.identity import signed_in
from feature_gateway.console.listing import (
    PAGE_SIZES,
    QUEUES,
    canonical_args,
    feature_query,
    page_link_args,
)
from feature_gateway.console.may_act import Verdict
from feature_gateway.console.pages import duration
from feature_gateway.domain.freshness import LATEST
from feature_gateway.domain.lifecycle import STORED_STATES, DataType, FeatureType, Status
from feature_gateway.domain.listing import SORT_ORDERS
from feature_gateway.domain.names import is_valid_feature_name
from feature_gateway.errors import FeatureNotFoundError, ValidationError
from feature_gateway.services import features
from feature_gateway.services.clock import now_ms
from feature_gateway.services.rows import FeatureData
from feature_gateway.web.context import database

QUEUE_LIMIT = 100


@blueprint.get("/find")
@signed_in
def find() -> Response:
    """The header's search: a feature's exact name goes to its page; other text to the list
    searched for it."""
    text = request.args.get("q", "").strip()
    if not text:
        return redirect(url_for("console.feature_list"))
    if is_valid_feature_name(text):
        try:
            found = features.get_feature(database(), text, LATEST)
        except FeatureNotFoundError:
            pass
        else:
            return redirect(url_for("console.feature", feature_name=found["feature_name"]))
    return redirect(url_for("console.feature_list", search=text))


@blueprint.get("/features")
@signed_in
def feature_list() -> Any:
    canonical = canonical_args(request.args)
    if canonical is not None:  # a search form sends every field, most of them empty
        shorter = urlencode(list(canonical.items(multi=True)))
        return redirect(url_for("console.feature_list") + (f"?{shorter}" if shorter else ""))
    try:
        query = feature_query(request.args)
    except ValidationError as invalid:
        return _list_page([], None, invalid.detail), 422
    page = features.list_features(database(), query, LATEST)  # see console.pages.feature_page
    return _list_page(page.items, page, None)


def _list_page(items: Any, page: Any, problem: str | None) -> str:
    previous = next_page = None
    if page is not None:
        if page.offset > 0:
            previous = page_link_args(request.args, max(page.offset - page.limit, 0))
        if page.offset + page.limit < page.total_count:
            next_page = page_link_args(request.args, page.offset + page.limit)
    return render_template(
        "console/features.html",
        items=items,
        page=page,
        problem=problem,
        args=request.args,
        statuses=[status for status in Status if status in STORED_STATES],
        feature_types=list(FeatureType),
        data_types=list(DataType),
        sorts=SORT_ORDERS,
        page_sizes=PAGE_SIZES,
        previous=previous,
        next_page=next_page,
    )


@dataclass(frozen=True)
class QueueRow:
    """A feature waiting in a queue: who did what, how long it has waited, and whether the
    signed-in person may act on it (``console.may_act``)."""

    feature: FeatureData
    waited: str  # "3 days": since its last change, which put it in the queue
    verdicts: tuple[Verdict, ...]

    @property
    def may(self) -> list[str]:
        return [verdict.act for verdict in self.verdicts if verdict.allowed]

    @property
    def why_not(self) -> str | None:
        """Why the person may take none of the queue's actions (the first reason)."""
        if self.may:
            return None
        return next((v.reason for v in self.verdicts if v.reason), None)


@blueprint.get("/queue")
@signed_in
def queue() -> str:
    user = identity.signed_in_user()
    sections = []
    now = now_ms()
    for role in user.roles:
        waiting = QUEUES.get(role)
        if waiting is not None:
            query = waiting.query(user.name, QUEUE_LIMIT)
            page = features.list_features(database(), query, LATEST)
            verdicts = may_act.verdicts(page.items, waiting.triggers)
            rows = [
                QueueRow(
                    item,
                    duration(item["updated_time"], now) or "under a second",
                    verdicts[item["feature_name"]],
                )
                for item in page.items
            ]
            sections.append((waiting, page, rows))
    return render_template("console/queue.html", sections=sections)
