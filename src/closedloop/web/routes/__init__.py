"""HTML routes. Every router checks the CSRF token on state-changing requests."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.datastructures import FormData

from closedloop.access import PUBLIC
from closedloop.web.security import verify_csrf


def page_router(*, public: bool = False) -> APIRouter:
    """A router for HTML pages: kept out of the OpenAPI document, CSRF-checked on POST.
    ``public`` declares every page of it open to visitors without a login
    (:mod:`closedloop.access`); otherwise each page declares its own access."""
    dependencies = [Depends(verify_csrf), *([PUBLIC] if public else [])]
    return APIRouter(dependencies=dependencies, include_in_schema=False)


def form_str(form: FormData, name: str) -> str:
    """A text field of a submitted form; empty when missing or a file."""
    value = form.get(name)
    return value if isinstance(value, str) else ""
