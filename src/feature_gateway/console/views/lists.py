"""The feature list with its search form, and the review queue of each of the person's
roles. Read on the primary (LATEST), as the feature page is (``console.pages``)."""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from feature_gateway.console import identity
from feature_gateway.console.blueprint import blueprint
from feature_gateway.console.identity import signed_in
from feature_gateway.console.listing import PAGE_SIZES, QUEUES, feature_query, page_link_args
from feature_gateway.domain.freshness import LATEST
from feature_gateway.domain.lifecycle import STORED_STATES, DataType, FeatureType, Status
from feature_gateway.domain.listing import SORT_ORDERS
from feature_gateway.errors import ValidationError
from feature_gateway.services import features
from feature_gateway.web.context import database

QUEUE_LIMIT = 100


@blueprint.get("/features")
@signed_in
def feature_list() -> Any:
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


@blueprint.get("/queue")
@signed_in
def queue() -> str:
    user = identity.signed_in_user()
    sections = []
    for role in user.roles:
        waiting = QUEUES.get(role)
        if waiting is not None:
            query = waiting.query(user.name, QUEUE_LIMIT)
            page = features.list_features(database(), query, LATEST)
            sections.append((waiting, page))
    return render_template("console/queue.html", sections=sections)
