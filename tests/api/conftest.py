"""Helpers of the API tests: authorised headers and persons created through the API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

PERSONS = "/api/v1/persons"


@pytest.fixture()
def auth(make_token: Callable[..., str]) -> Callable[..., dict[str, str]]:
    """Headers with a bearer token of a new user of ``role`` (admin by default)."""

    def make(role: str = "admin", username: str | None = None) -> dict[str, str]:
        token = make_token(username or f"api-{role}", role)
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture()
def admin(auth: Callable[..., dict[str, str]]) -> dict[str, str]:
    """Headers of an admin."""
    return auth("admin")


@pytest.fixture()
def create(client: TestClient, admin: dict[str, str]) -> Callable[..., dict[str, Any]]:
    """POST a person (fields as keyword arguments); returns the created person's JSON."""

    def make(**fields: Any) -> dict[str, Any]:
        response = client.post(PERSONS, json=fields, headers=admin)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    return make
