"""The ASGI application. ``closedloop serve`` runs ``uvicorn closedloop.asgi:create_app --factory``.

Nothing is built at import: :func:`create_app` reads the settings when it is called.
"""

from __future__ import annotations

from fastapi import FastAPI

from closedloop import api, web
from closedloop.bootstrap import get_engine


def create_app() -> FastAPI:
    """Build the web app: JSON API under /api/v1 (OpenAPI at /docs) and the HTML pages."""
    get_engine()  # fail fast on a bad database URL
    app = FastAPI(
        title="closedloop",
        version="0.1.0",
        description="The marketing database and its closed campaign loop. "
        "Authenticate with `Authorization: Bearer <token>` "
        "(create one with `closedloop users token USERNAME`).",
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    api.install(app)
    web.install(app)
    return app
