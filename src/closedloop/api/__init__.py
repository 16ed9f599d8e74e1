"""JSON API under /api/v1 (OpenAPI at /docs)."""

from __future__ import annotations

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Add the API routers and the problem+json error handlers to ``app``."""
