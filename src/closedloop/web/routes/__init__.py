"""HTML routes. Every router checks the CSRF token on state-changing requests."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.datastructures import FormData

from closedloop.web.security import verify_csrf


def page_router() -> APIRouter:
    """A router for HTML pages: kept out of the OpenAPI document, CSRF-checked on POST."""
    return APIRouter(dependencies=[Depends(verify_csrf)], include_in_schema=False)


def form_str(form: FormData, name: str) -> str:
    """A text field of a submitted form; empty when missing or a file."""
    value = form.get(name)
    return value if isinstance(value, str) else ""
