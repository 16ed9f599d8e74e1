"""The security tests use the API and page helpers of tests/api and tests/web."""

from __future__ import annotations

from tests.api.conftest import admin, auth, create
from tests.web.conftest import logged_in, web

__all__ = ["admin", "auth", "create", "logged_in", "web"]
