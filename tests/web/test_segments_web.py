"""The segment builder in the web pages: conditions from lists (no SQL), the live count and
profile, saving, a segment's page, snapshot, CSV export, delete; mistakes name the rule path."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.segments.world import consent, person

from closedloop.db.uow import unit_of_work


def _count(html: str) -> str:
    found = re.search(r'id="segment-count">([^<]+)<', html)
    assert found, html
    return found.group(1)


def test_build_count_save_snapshot_export_delete(
    logged_in: Callable[..., TestClient], factory: sessionmaker[Session], web: Any
) -> None:
    with unit_of_work(factory) as s:
        ann = person(s, given_name="Ann", family_name="Ash", gender="f",
                     birth_date=date(1980, 1, 1))  # fmt: skip
        person(s, given_name="Bea", gender="f")
        person(s, given_name="Cid", gender="m")
        consent(s, ann)
    client = logged_in("marketer")
    page = client.get("/segments/new")
    assert page.status_code == 200 and "Condition 1" in page.text
    token = web.csrf_from(page.text)
    form = {"csrf_token": token, "rows": "1", "match": "all", "c0_kind": "field",
            "c0_field": "gender", "c0_op": "eq", "c0_value": "f"}  # fmt: skip
    preview = client.post("/segments/preview", data=form)
    assert preview.status_code == 200 and _count(preview.text) == "2"
    added = client.post("/segments/new", data={**form, "action": "add"})
    assert "Condition 2" in added.text
    both = {**form, "rows": "2", "c1_kind": "consent", "c1_channel": "email",
            "c1_purpose": "marketing"}  # fmt: skip
    counted = client.post("/segments/new", data={**both, "action": "count"})
    assert _count(counted.text) == "1"
    assert re.search(r"<td>Email</td><td>0</td>", counted.text)  # consent but no address
    negated = client.post("/segments/preview", data={**both, "c1_negate": "1"})
    assert _count(negated.text) == "1"
    bad = client.post("/segments/preview", data={**form, "c0_field": "age", "c0_value": "old"})
    assert "all[0].value" in bad.text and "takes a number" in bad.text

    saved = client.post("/segments/new", data={**both, "action": "save", "name": "Ann-like"},
                        follow_redirects=False)  # fmt: skip
    assert saved.status_code == 303, saved.text
    seg_url = saved.headers["location"]
    shown = client.get(seg_url)
    assert "Ann-like" in shown.text and _count(shown.text) == "1"
    assert "Ann-like" in client.get("/segments").text
    exported = client.get(f"{seg_url}/export")
    assert exported.status_code == 200 and "Ash" in exported.text and "Bea" not in exported.text
    snap = client.post(f"{seg_url}/snapshot", data={"csrf_token": token}, follow_redirects=False)
    assert snap.status_code == 303
    assert "Snapshot taken" in client.get(snap.headers["location"]).text
    gone = client.post(f"{seg_url}/delete", data={"csrf_token": token}, follow_redirects=False)
    assert gone.status_code == 303 and client.get(seg_url).status_code == 404
    again = client.post("/segments/new", data={**form, "action": "save", "name": ""})
    assert again.status_code == 422 and "needs a name" in again.text


def test_roles(logged_in: Callable[..., TestClient]) -> None:
    client = logged_in("agent")
    assert client.get("/segments/new").status_code == 403
