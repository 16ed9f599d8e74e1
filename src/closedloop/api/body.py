"""Checks every JSON request body passes before its route reads it.

A NUL character (``\\u0000`` in JSON) can be stored by neither PostgreSQL's text nor its JSON
columns, and no field of the API means one; a body holding one is a 422 naming the field
(``questions[0].choices[1]``), whatever the route, so a route that forgot to refuse it can
never fail with a 500 half-way through its writes.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from closedloop.api.errors import ApiProblem
from closedloop.contacts.validation import control_problem


def _nul_path(value: Any, path: str) -> tuple[str, str] | None:
    """The path and text of the first key or text holding a NUL in ``value``, or None."""
    if isinstance(value, str):
        return (path, value) if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if "\x00" in key:
                return here, key
            found = _nul_path(item, here)
            if found:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _nul_path(item, f"{path}[{i}]")
            if found:
                return found
    return None


async def refuse_nul(request: Request) -> None:
    """Refuse (422) a JSON body holding a NUL character, naming the field."""
    if request.method in ("GET", "HEAD", "DELETE", "OPTIONS"):
        return
    if "json" not in request.headers.get("content-type", ""):
        return  # uploads are streamed by their route and checked by the import's reader
    try:
        body = await request.body()
    except RuntimeError:  # the route's parameters already streamed it (a form)
        return
    if b"\\u0000" not in body:  # JSON can only write a NUL escaped: the fast path
        return
    try:
        data = json.loads(body)
    except ValueError:
        return  # the route's own parsing reports malformed JSON
    found = _nul_path(data, "")
    if found is not None:
        field, text = found
        message = control_problem(text) or "holds a control character (U+0000)"
        raise ApiProblem(
            "validation-failed",
            f"1 field is not valid: {field or 'body'}.",
            errors=[{"field": field or "body", "message": message, "in": None}],
        )
