"""A campaign's tests through ``/api/v1/campaigns``: the A/B test (share tested, winner metric,
wait), the stratification by value tier and the hold-out are written on create and update and
read back, so a script can copy a campaign; one made in the web editor reads back the same."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.campaigns.waves import email_template, person
from tests.web.conftest import login, page_token

from closedloop.campaigns.models import Offer
from closedloop.db.uow import unit_of_work
from closedloop.segments import freeze_members

URL = "/api/v1/campaigns"
AB = {"share": 0.2, "metric": "open", "decide_after_hours": 12.0}


def _base(factory: sessionmaker[Session]) -> int:
    with unit_of_work(factory) as s:
        email_template(s, code="mail-a")
        email_template(s, code="mail-b")
        s.add(Offer(code="CLUB", name="Book club", price=Decimal("19.90")))
        return freeze_members(s, "Readers", [person(s, i) for i in range(4)], {"k": "r"}).id


def _doc(segment: int) -> dict[str, Any]:
    """Two treatment cells tested against each other, a 10 % hold-out, by value tier."""
    return {
        "code": "AB", "name": "Two subjects", "segment_id": segment, "offer": "CLUB",
        "waves": [{"name": "Launch", "scheduled_at": "2027-10-05T09:30:00Z"},
                  {"name": "Reminder", "scheduled_at": "2027-10-12T09:30:00Z"}],
        "cells": [
            {"code": "A", "name": "Subject A", "channel": "email", "template": "mail-a",
             "share": 0.45},
            {"code": "B", "name": "Subject B", "channel": "email", "template": "mail-b",
             "share": 0.45},
            {"code": "HOLD", "name": "Hold-out", "is_control": True, "share": 0.1},
        ],
        "tests": {"stratify_by_tier": True, "ab_test": AB},
    }  # fmt: skip


def _as_create(shown: dict[str, Any], code: str) -> dict[str, Any]:
    """What a script sends to copy a campaign it read: the writable fields only."""
    keep = ("name", "objective", "offer", "segment_id", "budget", "currency",
            "cost_per_contact", "starts_on", "ends_on", "priority", "purpose",
            "response_window_days")  # fmt: skip
    cell_keys = ("code", "name", "is_control", "channel", "offer", "price", "template",
                 "segment_id", "share", "unit_cost")  # fmt: skip
    wave_keys = ("name", "scheduled_at", "expected_volume")
    tests = dict(shown["tests"])
    tests.pop("holdout_share")
    if tests["ab_test"]:
        tests["ab_test"] = {k: tests["ab_test"][k] for k in AB}
    return {
        "code": code,
        **{k: shown[k] for k in keep},
        "waves": [{k: w[k] for k in wave_keys} for w in shown["waves"]],
        "cells": [{k: c[k] for k in cell_keys} for c in shown["cells"]],
        "tests": tests,
    }


def _mix(shown: dict[str, Any]) -> Any:
    cells = [(c["code"], c["is_control"], c["template"], c["share"]) for c in shown["cells"]]
    return cells, shown["tests"], [w["scheduled_at"] for w in shown["waves"]]


def test_an_ab_test_by_value_tier_is_written_read_back_and_copied(
    client: TestClient, auth: Callable[..., dict[str, str]], factory: sessionmaker[Session]
) -> None:
    headers = auth("marketer")
    made = client.post(URL, json=_doc(_base(factory)), headers=headers)
    assert made.status_code == 201, made.text
    shown = client.get(f"{URL}/{made.json()['id']}", headers=headers).json()
    assert shown["tests"] == {
        "stratify_by_tier": True,
        "one_per_household": False,
        "ab_test": AB | {"winner_cell": None, "decided_at": None},
        "holdout_share": 0.1,
    }
    assert [(c["code"], c["share"]) for c in shown["cells"]] == [
        ("A", 0.45), ("B", 0.45), ("HOLD", 0.1)]  # fmt: skip
    copied = client.post(URL, json=_as_create(shown, "AB-COPY"), headers=headers)
    assert copied.status_code == 201, copied.text
    again = client.get(f"{URL}/{copied.json()['id']}", headers=headers).json()
    assert _mix(again) == _mix(shown)
    # an update without tests keeps them; with tests replaces them
    cid = shown["id"]
    kept = client.patch(f"{URL}/{cid}", json={"objective": "Open rate"}, headers=headers)
    assert kept.json()["tests"] == shown["tests"]
    off = {"stratify_by_tier": False, "one_per_household": True, "ab_test": None}
    changed = client.patch(f"{URL}/{cid}", json={"tests": off}, headers=headers)
    assert changed.status_code == 200, changed.text
    assert client.get(f"{URL}/{cid}", headers=headers).json()["tests"] == off | {
        "holdout_share": 0.1
    }


def test_bad_tests_are_refused_naming_the_field(
    client: TestClient, auth: Callable[..., dict[str, str]], factory: sessionmaker[Session]
) -> None:
    headers = auth("marketer")
    doc = _doc(_base(factory))
    bad_tests = (
        ({"share": 1.5}, "tests.ab_test.share"),
        ({"share": 0.2, "metric": "revenue"}, "tests.ab_test.metric"),
        ({"share": 0.2, "decide_after_hours": 0}, "tests.ab_test.decide_after_hours"),
    )
    for bad, field in bad_tests:
        answer = client.post(URL, json=doc | {"tests": {"ab_test": bad}}, headers=headers)
        assert answer.status_code == 422, answer.text
        assert field in [e["field"] for e in answer.json()["errors"]], answer.json()
    one = doc | {"cells": doc["cells"][:1] + doc["cells"][2:]}
    one["cells"][0] = one["cells"][0] | {"share": 0.9}
    answer = client.post(URL, json=one, headers=headers)
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "tests.ab_test"
    assert "two treatment cells" in answer.json()["detail"]
    assert client.get(URL, headers=headers).json() == []  # nothing half written


def test_a_campaign_made_in_the_web_editor_reads_back_through_the_api(
    client: TestClient,
    auth: Callable[..., dict[str, str]],
    make_user: Callable[..., str],
    factory: sessionmaker[Session],
) -> None:
    segment = _base(factory)
    headers = auth("marketer")
    assert login(client, make_user("editor", "marketer")).status_code == 303
    form = {
        "code": "WEB", "name": "From the editor", "segment_id": str(segment), "priority": "100",
        "waves-0-name": "Launch", "waves-0-scheduled_at": "2027-10-05T09:30",
        "cells-0-code": "A", "cells-0-name": "Subject A", "cells-0-kind": "treatment",
        "cells-0-channel": "email", "cells-0-template": "mail-a", "cells-0-share": "40",
        "cells-1-code": "B", "cells-1-name": "Subject B", "cells-1-kind": "treatment",
        "cells-1-channel": "email", "cells-1-template": "mail-b", "cells-1-share": "40",
        "cells-2-code": "HOLD", "cells-2-name": "Hold-out", "cells-2-kind": "control",
        "cells-2-share": "20", "stratify_by_tier": "on", "ab_test_share": "25",
        "ab_metric": "purchase", "ab_decide_after_hours": "48",
        "csrf_token": page_token(client, "/campaigns/new"),
    }  # fmt: skip
    made = client.post("/campaigns/new", data=form, follow_redirects=False)
    assert made.status_code == 303, made.text
    cid = int(made.headers["location"].rsplit("/", 1)[1])
    shown = client.get(f"{URL}/{cid}", headers=headers).json()
    assert shown["tests"] == {
        "stratify_by_tier": True,
        "one_per_household": False,
        "ab_test": {"share": 0.25, "metric": "purchase", "decide_after_hours": 48.0,
                    "winner_cell": None, "decided_at": None},
        "holdout_share": 0.2,
    }  # fmt: skip
    assert [(c["code"], c["is_control"], c["share"]) for c in shown["cells"]] == [
        ("A", False, 0.4), ("B", False, 0.4), ("HOLD", True, 0.2)]  # fmt: skip
    # the script writes it back unchanged: the editor shows the same tests
    body = _as_create(shown, "WEB")
    body.pop("code")
    assert client.patch(f"{URL}/{cid}", json=body, headers=headers).status_code == 200
    page = client.get(f"/campaigns/{cid}/edit").text
    assert 'id="f-ab_test_share" name="ab_test_share" type="number" value="25"' in page
    assert client.get(f"{URL}/{cid}", headers=headers).json()["tests"] == shown["tests"]
