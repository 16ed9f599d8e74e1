"""``/api/v1/segments``: the published schema, counting a rule body, CRUD, members paged,
snapshots; errors name the rule path; who may do what."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.segments.world import consent, person

from closedloop.db.uow import unit_of_work

URL = "/api/v1/segments"


def _base(factory: sessionmaker[Session]) -> list[int]:
    with unit_of_work(factory) as s:
        ids = [person(s, given_name=n, gender=g, birth_date=date(1980, 1, 1))
               for n, g in (("Ann", "f"), ("Bea", "f"), ("Cid", "m"))]  # fmt: skip
        consent(s, ids[0])
        consent(s, ids[2])
    return ids


def test_count_crud_members_snapshot(
    client: TestClient, auth: Callable[..., dict[str, str]], factory: sessionmaker[Session]
) -> None:
    ann, bea, _cid = _base(factory)
    h = auth("marketer")
    schema = client.get(f"{URL}/schema", headers=h)
    assert schema.status_code == 200 and schema.json()["title"] == "Segment rule"
    women = {"field": "gender", "op": "eq", "value": "f"}
    assert client.post(f"{URL}/count", json=women, headers=h).json() == {"count": 2}
    both = {"all": [women, {"consent": {"channel": "email", "purpose": "marketing"}}]}
    assert client.post(f"{URL}/count", json=both, headers=h).json() == {"count": 1}

    made = client.post(URL, json={"name": "Women", "rules": women}, headers=h)
    assert made.status_code == 201, made.text
    seg = made.json()
    assert (seg["kind"], seg["rules"]) == ("dynamic", women)
    one = client.get(f"{URL}/{seg['id']}", headers=h).json()
    assert one["count"] == 2
    page = client.get(f"{URL}/{seg['id']}/members?limit=1&offset=1", headers=h).json()
    assert (page["items"], page["total"]) == ([bea], 2)

    snap = client.post(f"{URL}/{seg['id']}/snapshot", json={"name": "Women then"}, headers=h)
    assert snap.status_code == 201, snap.text
    frozen = snap.json()
    assert (frozen["kind"], frozen["frozen_count"], frozen["source_segment_id"]) == (
        "snapshot", 2, seg["id"],
    )  # fmt: skip
    patched = client.patch(f"{URL}/{seg['id']}", json={"rules": both}, headers=h)
    assert patched.status_code == 200 and patched.json()["rules"] == both
    assert client.get(f"{URL}/{seg['id']}/members", headers=h).json()["items"] == [ann]
    assert client.get(f"{URL}/{frozen['id']}/members", headers=h).json()["items"] == [ann, bea]
    refused = client.patch(f"{URL}/{frozen['id']}", json={"rules": women}, headers=h)
    assert refused.status_code == 422
    listed = client.get(URL, headers=h).json()
    assert [s["name"] for s in listed["items"]] == ["Women", "Women then"]
    assert client.post(URL, json={"name": "Women", "rules": women}, headers=h).status_code == 409
    assert client.delete(f"{URL}/{seg['id']}", headers=h).status_code == 204
    assert client.get(f"{URL}/{seg['id']}", headers=h).status_code == 404
    assert client.get(f"{URL}/{frozen['id']}", headers=h).json()["count"] == 2


def test_errors_name_the_rule_path(client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    h = auth("marketer")
    bad = {"all": [{"field": "tier", "value": "A"}, {"orders": {"days": "soon"}}]}
    r = client.post(f"{URL}/count", json=bad, headers=h)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "all[1].orders.days"
    r = client.post(URL, json={"name": "X", "rules": {"orders": {"category": "nope"}}}, headers=h)
    assert r.status_code == 422 and "there is no category 'nope'" in r.text
    sneaky = {"field": "family_name", "value": "x'); DROP TABLE persons; -- :p %s ? {{7*7}}"}
    assert client.post(f"{URL}/count", json=sneaky, headers=h).json() == {"count": 0}


def test_who_may(client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    rule = {"all": []}
    assert client.post(f"{URL}/count", json=rule).status_code == 401
    assert client.post(f"{URL}/count", json=rule, headers=auth("analyst")).status_code == 403
    assert client.post(f"{URL}/count", json=rule, headers=auth("agent")).status_code == 403
