"""JSON API under /api/v1 (OpenAPI at /docs and /api/v1/openapi.json).

Errors are problem+json (:mod:`closedloop.api.errors`); authentication is a bearer token
(:mod:`closedloop.api.auth`); each route module holds one domain's router.
"""

from __future__ import annotations

from functools import cache

from fastapi import APIRouter, Depends, FastAPI

from closedloop.api import errors
from closedloop.api.body import refuse_nul
from closedloop.api.routes import (
    campaigns,
    dedupe,
    evaluation,
    events,
    imports,
    jobs,
    me,
    persons,
    pressure,
    problems,
    responses,
    scores,
    segments,
    signup_forms,
    surveys,
    sync,
    targeting,
    webhooks,
)

PREFIX = "/api/v1"


@cache
def router() -> APIRouter:
    """Every API route under ``/api/v1``, built once per process: FastAPI prepares each
    route's models when a router is first included, which cost ~0.5 s for every new app."""
    api = APIRouter(prefix=PREFIX)
    for module in (
        persons, dedupe, me, problems, scores, imports, jobs, segments, signup_forms,
        campaigns, sync, webhooks, responses, evaluation, pressure, surveys, targeting, events,
    ):  # fmt: skip
        # The sync batches refuse an item holding a NUL in their own reply, keeping the rest.
        checks = [] if module is sync else [Depends(refuse_nul)]
        api.include_router(module.router, dependencies=checks)
    return api


def install(app: FastAPI) -> None:
    """Add the API routers and the problem+json error handlers to ``app``."""
    errors.install(app)
    app.include_router(router())
