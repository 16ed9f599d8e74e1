"""Server-rendered web pages (Jinja2) over the same services as the API."""

from __future__ import annotations

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Add the session middleware, static files and HTML routes to ``app``."""
