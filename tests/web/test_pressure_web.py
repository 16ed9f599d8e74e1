"""The pressure-rules page: a marketer adds, replaces and deletes rules; errors are named."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient


def test_marketer_adds_and_deletes_a_rule(logged_in: Callable[..., TestClient], web: Any) -> None:
    client = logged_in("marketer")
    assert "Pressure rules" in client.get("/").text
    token = web.page_token(client, "/pressure-rules")
    data = {"csrf_token": token, "name": "weekly", "channel": "email", "max_messages": "2",
            "period_days": "7", "min_gap_hours": "24", "tier": ""}  # fmt: skip
    saved = client.post("/pressure-rules", data=data, follow_redirects=False)
    assert saved.status_code == 303
    page = client.get("/pressure-rules").text
    assert "<td>weekly</td>" in page and "<td>Email</td>" in page and "<td>24</td>" in page
    bad = client.post("/pressure-rules", data=data | {"period_days": "0", "max_messages": "x"})
    assert bad.status_code == 422
    assert "Write a number." in bad.text
    bad2 = client.post("/pressure-rules", data=data | {"period_days": "400"})
    assert bad2.status_code == 422 and "must be 1–366" in bad2.text
    rule_id = page.split('action="/pressure-rules/')[1].split("/delete")[0]
    gone = client.post(f"/pressure-rules/{rule_id}/delete", data={"csrf_token": token},
                       follow_redirects=False)  # fmt: skip
    assert gone.status_code == 303
    assert "No pressure rule yet." in client.get("/pressure-rules").text


def test_an_agent_may_not_see_the_page(logged_in: Callable[..., TestClient]) -> None:
    assert logged_in("agent").get("/pressure-rules").status_code == 403
