"""The ASGI application. ``closedloop serve`` runs ``uvicorn closedloop.asgi:create_app --factory``.

Nothing is built at import: :func:`create_app` reads the settings when it is called.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from closedloop import api, web
from closedloop.access import PUBLIC
from closedloop.bootstrap import get_engine

OPENAPI_URL = "/api/v1/openapi.json"
DOCS_URL = "/docs"
#: Swagger UI's files, served from the ``fastapi-offline`` package: nothing from a CDN.
DOCS_ASSETS = "/docs/assets"
DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} · API documentation</title>
  <link rel="icon" href="{root}{assets}/favicon.png">
  <link rel="stylesheet" href="{root}{assets}/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui" data-openapi-url="{root}{openapi}"></div>
  <script src="{root}{assets}/swagger-ui-bundle.js"></script>
  <script src="{root}{docs}/start.js"></script>
</body>
</html>
"""
#: Starts Swagger UI from a file of this site, as the pages' Content-Security-Policy wants (no
#: inline script); no validator badge (it would call another site).
DOCS_SCRIPT = """\
"use strict";
(function () {
  var holder = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: holder.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout",
  });
})();
"""


def swagger_ui_files() -> Path:
    """The folder of Swagger UI's script, style sheet and icon (package ``fastapi-offline``)."""
    return Path(str(files("fastapi_offline").joinpath("static")))


def _install_docs(app: FastAPI) -> None:
    """The interactive API documentation at /docs, working offline and under the site's
    Content-Security-Policy."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=swagger_ui_files()), name="docs-assets")

    @app.get(DOCS_URL, include_in_schema=False, dependencies=[PUBLIC])
    def docs_page(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return HTMLResponse(
            DOCS_PAGE.format(
                title=app.title, root=root, assets=DOCS_ASSETS, openapi=OPENAPI_URL, docs=DOCS_URL
            )
        )

    @app.get(f"{DOCS_URL}/start.js", include_in_schema=False, dependencies=[PUBLIC])
    def docs_script() -> Response:
        return Response(DOCS_SCRIPT, media_type="text/javascript")


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """On a clean shutdown, write the tracked opens and clicks still waiting in memory."""
    yield
    collector = getattr(app.state, "collector", None)
    if collector is not None:
        collector.close()


def create_app() -> FastAPI:
    """Build the web app: JSON API under /api/v1 (OpenAPI at /docs) and the HTML pages."""
    get_engine()  # fail fast on a bad database URL
    app = FastAPI(
        title="closedloop",
        version="0.1.0",
        description="The marketing database and its closed campaign loop. "
        "Authenticate with `Authorization: Bearer <token>` "
        "(create one with `closedloop users token USERNAME`).",
        docs_url=None,  # served by _install_docs, without a CDN
        redoc_url=None,
        openapi_url=OPENAPI_URL,
        lifespan=_lifespan,
    )
    api.install(app)
    web.install(app)
    _install_docs(app)
    return app
