"""JSON API under /api/v1 (OpenAPI at /docs and /api/v1/openapi.json).

Errors are problem+json (:mod:`closedloop.api.errors`); authentication is a bearer token
(:mod:`closedloop.api.auth`); each route module holds one domain's router.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from closedloop.api import errors
from closedloop.api.routes import (
    dedupe,
    imports,
    jobs,
    me,
    persons,
    problems,
    scores,
    signup_forms,
    sync,
    webhooks,
)

PREFIX = "/api/v1"


def router() -> APIRouter:
    """Every API route under ``/api/v1``."""
    api = APIRouter(prefix=PREFIX)
    api.include_router(persons.router)
    api.include_router(dedupe.router)
    api.include_router(me.router)
    api.include_router(problems.router)
    api.include_router(scores.router)
    api.include_router(imports.router)
    api.include_router(jobs.router)
    api.include_router(signup_forms.router)
    api.include_router(sync.router)
    api.include_router(webhooks.router)
    return api


def install(app: FastAPI) -> None:
    """Add the API routers and the problem+json error handlers to ``app``."""
    errors.install(app)
    app.include_router(router())
