"""The campaign editor: several waves and cells written in the form, rows added, moved and
removed without a script, tests (A/B with a winner metric and delay, control group,
stratification) saved; every error named by its wave or cell and field, nothing half written;
a running campaign's content frozen (saving makes a new version); CSRF and roles."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.campaigns.waves import email_template, person

from closedloop.campaigns import lifecycle, service
from closedloop.campaigns.models import Campaign, Offer
from closedloop.campaigns.targeting import targeting_of
from closedloop.db.uow import unit_of_work
from closedloop.segments import freeze_members


def _base(factory: sessionmaker[Session]) -> tuple[int, int]:
    with unit_of_work(factory) as s:
        email_template(s, code="mail-a")
        email_template(s, code="mail-b")
        s.add(Offer(code="CLUB", name="Book club", price=Decimal("19.90")))
        s.add(Offer(code="HALF", name="Half price", price=Decimal("9.95")))
        readers = freeze_members(s, "Readers", [person(s, i) for i in range(6)], {"k": "r"})
        young = freeze_members(
            s, "Young readers", [person(s, 10 + i) for i in range(2)], {"k": "y"}
        )
        return readers.id, young.id


def _form(segment: int, young: int) -> dict[str, str]:
    """Two waves, two treatment cells (another offer and segment for B) and a control."""
    return {
        "code": "MIX", "name": "Marketing mix", "objective": "Test two offers", "offer": "CLUB",
        "segment_id": str(segment), "budget": "500", "cost_per_contact": "0.05",
        "starts_on": "2027-10-01", "ends_on": "2027-10-31", "priority": "300",
        "waves-0-name": "Launch", "waves-0-scheduled_at": "2027-10-05T09:30",
        "waves-0-expected_volume": "100",
        "waves-1-name": "Reminder", "waves-1-scheduled_at": "2027-10-12T09:30",
        "waves-1-expected_volume": "80",
        "cells-0-code": "A", "cells-0-name": "Club by email", "cells-0-kind": "treatment",
        "cells-0-channel": "email", "cells-0-template": "mail-a", "cells-0-price": "15",
        "cells-0-share": "45", "cells-0-unit_cost": "0.02",
        "cells-1-code": "B", "cells-1-name": "Half price", "cells-1-kind": "treatment",
        "cells-1-channel": "email", "cells-1-template": "mail-b", "cells-1-offer": "HALF",
        "cells-1-share": "45", "cells-1-segment_id": str(young),
        "cells-2-code": "HOLD", "cells-2-name": "Hold-out", "cells-2-kind": "control",
        "cells-2-channel": "email", "cells-2-share": "10",
        "stratify_by_tier": "on", "ab_test_share": "20", "ab_metric": "open",
        "ab_decide_after_hours": "12",
    }  # fmt: skip


def _count(factory: sessionmaker[Session]) -> int:
    with factory() as s:
        return int(s.scalar(select(func.count(Campaign.id))) or 0)


def _summary(page: str) -> list[str]:
    block = re.search(r'id="error-summary".*?</ul>', page, re.S)
    assert block, "no error summary on the page"
    items = re.findall(r"<li>(.*?)</li>", block.group(0), re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", "", i)).split()) for i in items]


def test_two_waves_three_cells_and_an_ab_test(
    logged_in: Callable[..., TestClient], web: Any, factory: sessionmaker[Session]
) -> None:
    segment, young = _base(factory)
    client = logged_in("marketer")
    token = web.page_token(client, "/campaigns/new")
    made = client.post("/campaigns/new", data=_form(segment, young) | {"csrf_token": token},
                       follow_redirects=False)  # fmt: skip
    assert made.status_code == 303, _summary(made.text)
    campaign_id = int(made.headers["location"].rsplit("/", 1)[1])
    with factory() as s:
        shown = service.describe(s, service.get_campaign(s, campaign_id))
        tests = targeting_of(s, campaign_id)
    assert [(w.name, w.scheduled_at.isoformat() if w.scheduled_at else None, w.expected_volume)
            for w in shown.waves] == [("Launch", "2027-10-05T09:30:00+00:00", 100),
                                      ("Reminder", "2027-10-12T09:30:00+00:00", 80)]  # fmt: skip
    cells = {c.code: c for c in shown.cells}
    assert set(cells) == {"A", "B", "HOLD"}
    assert (cells["A"].offer, cells["A"].template, cells["A"].price, cells["A"].share,
            cells["A"].unit_cost) == ("CLUB", "mail-a", Decimal("15.00"), 0.45,
                                      Decimal("0.02"))  # fmt: skip
    assert (cells["B"].offer, cells["B"].template, cells["B"].segment_id) == (
        "HALF",
        "mail-b",
        young,
    )
    assert cells["HOLD"].is_control and cells["HOLD"].channel is None and cells["HOLD"].share == 0.1
    assert (shown.segment_id, shown.priority, shown.budget) == (segment, 300, Decimal("500.00"))
    assert tests["stratify_by_tier"] is True and tests["one_per_household"] is False
    assert (tests["ab_test_share"], tests["ab_metric"], tests["ab_decide_after_hours"]) == (
        0.2, "open", 12.0)  # fmt: skip
    # the editor shows it all back
    page = client.get(f"/campaigns/{campaign_id}/edit").text
    assert 'name="waves-1-name" type="text" value="Reminder"' in page
    assert (
        'value="2027-10-12T09:30"' in page
        and 'name="cells-2-code" type="text" value="HOLD"' in page
    )
    assert re.search(r'id="f-cells-2-kind".*?<option value="control" selected', page, re.S)
    assert 'id="f-ab_test_share" name="ab_test_share" type="number" value="20"' in page
    # an edit of the draft: the A/B test and the reminder go, another wave comes
    data = _form(segment, young) | {"csrf_token": token, "ab_test_share": "",
                                    "waves-1-name": "Last call", "cells-1-share": "45"}  # fmt: skip
    data.pop("code")
    changed = client.post(f"/campaigns/{campaign_id}/edit", data=data, follow_redirects=False)
    assert changed.status_code == 303, _summary(changed.text)
    with factory() as s:
        shown = service.describe(s, service.get_campaign(s, campaign_id))
        assert [w.name for w in shown.waves] == ["Launch", "Last call"]
        assert targeting_of(s, campaign_id)["ab_test_share"] is None


def test_rows_are_added_moved_and_removed_without_saving(
    logged_in: Callable[..., TestClient], web: Any, factory: sessionmaker[Session]
) -> None:
    segment, young = _base(factory)
    client = logged_in("marketer")
    token = web.page_token(client, "/campaigns/new")
    form = _form(segment, young) | {"csrf_token": token}
    added = client.post("/campaigns/new", data=form | {"op": "add-wave"})
    assert (
        added.status_code == 200 and 'name="waves-2-name" type="text" value="Wave 3"' in added.text
    )
    assert 'value="Reminder"' in added.text  # what was typed is kept
    cell = client.post("/campaigns/new", data=form | {"op": "add-cell"})
    assert 'name="cells-3-code" type="text" value="C"' in cell.text
    moved = client.post("/campaigns/new", data=form | {"op": "up-wave-1"})
    assert moved.text.index('value="Reminder"') < moved.text.index('value="Launch"')
    removed = client.post("/campaigns/new", data=form | {"op": "remove-cell-1"})
    assert 'value="Half price"' not in removed.text and 'name="cells-2-code"' not in removed.text
    assert 'value="HOLD"' in removed.text
    assert _count(factory) == 0  # none of these saved anything


def test_errors_name_the_wave_the_cell_and_the_field(
    logged_in: Callable[..., TestClient], web: Any, factory: sessionmaker[Session]
) -> None:
    segment, young = _base(factory)
    client = logged_in("marketer")
    token = web.page_token(client, "/campaigns/new")
    form = _form(segment, young) | {"csrf_token": token}
    bad = client.post("/campaigns/new", data=form | {
        "waves-1-scheduled_at": "next tuesday", "cells-1-share": "-5", "cells-2-code": "A",
        "ab_decide_after_hours": "5000", "name": "Bad\x00name"})  # fmt: skip
    assert bad.status_code == 422
    summary = _summary(bad.text)
    assert "Wave 2 · Send at: Enter a valid date and time." in summary
    assert "Cell 2 · Share of the target: Enter a percentage above 0, at most 100." in summary
    assert "Cell 3 · Code: Another cell has this code." in summary
    assert (
        "A/B test: decide after (hours): Enter a number of hours above 0, at most 1440." in summary
    )
    assert "Name: This text holds a control character, which cannot be stored." in summary
    assert 'id="waves-1-scheduled_at-error"' in bad.text and 'value="next tuesday"' in bad.text
    shares = client.post("/campaigns/new", data=form | {"cells-2-share": "5"})
    assert _summary(shares.text) == [
        "Cells: The cells' shares add up to 95 %: make them add up to 100 %."]  # fmt: skip
    one = client.post("/campaigns/new", data=form | {"cells-1-kind": "control"})
    assert _summary(one.text) == [
        "A/B test: share of the audience tested: An A/B test needs two treatment cells or more."
    ]
    # refused by the service after the campaign row was written: nothing of it is kept
    offer = client.post("/campaigns/new", data=form | {"cells-1-offer": "NOPE"})
    assert offer.status_code == 422
    assert "Cell 2 · Offer: no offer with code 'NOPE'" in _summary(offer.text)
    missing = client.post("/campaigns/new", data=form | {"code": "OTHER", "cells-0-name": "",
                                                         "waves-0-name": ""})  # fmt: skip
    assert "Wave 1 · Name: This field is required." in _summary(missing.text)
    assert "Cell 1 · Name: This field is required." in _summary(missing.text)
    template = client.post("/campaigns/new", data=form | {"cells-0-template": "mail-b",
                           "cells-0-channel": "sms"})  # fmt: skip
    assert "Cell 1 · Message template: template for email, not sms" in _summary(template.text)
    assert _count(factory) == 0
    assert client.post("/campaigns/new", data=form, follow_redirects=False).status_code == 303
    taken = client.post("/campaigns/new", data=form)
    assert _summary(taken.text) == ["Code: A campaign with the code 'MIX' already exists."]
    assert _count(factory) == 1


def test_a_running_campaign_is_frozen_and_an_edit_makes_a_new_version(
    logged_in: Callable[..., TestClient], web: Any, factory: sessionmaker[Session]
) -> None:
    segment, young = _base(factory)
    client = logged_in("marketer")
    token = web.page_token(client, "/campaigns/new")
    form = _form(segment, young) | {"csrf_token": token, "ab_test_share": "",
                                    "waves-0-scheduled_at": ""}  # fmt: skip
    made = client.post("/campaigns/new", data=form, follow_redirects=False)
    assert made.status_code == 303, _summary(made.text)
    url = made.headers["location"]
    campaign_id = int(url.rsplit("/", 1)[1])
    with unit_of_work(factory) as s:
        lifecycle.approve(s, campaign_id, by="someone")
        lifecycle.launch(s, campaign_id, by="someone")
    page = client.get(f"{url}/edit").text
    assert 'id="new-version-notice"' in page and "Saving makes version 2" in page
    assert 'value="Reminder"' in page and 'value="Launch"' not in page  # only waves not started
    data = {k: v for k, v in form.items() if not k.startswith("waves-") and k != "code"}
    data |= {"waves-0-name": "Reminder", "waves-0-scheduled_at": "2027-10-20T10:00",
             "cells-0-price": "12"}  # fmt: skip
    saved = client.post(f"{url}/edit", data=data, follow_redirects=False)
    assert saved.status_code == 303, _summary(saved.text)
    new_id = int(saved.headers["location"].rsplit("/", 1)[1])
    assert new_id != campaign_id
    assert "your change is a new version" in client.get(saved.headers["location"]).text
    with factory() as s:
        old = service.describe(s, service.get_campaign(s, campaign_id))
        new = service.describe(s, service.get_campaign(s, new_id))
    assert old.status == "running" and {c.code: c.price for c in old.cells}["A"] == Decimal("15.00")
    assert (new.version, new.status, new.previous_id) == (2, "draft", campaign_id)
    assert {c.code: c.price for c in new.cells}["A"] == Decimal("12.00")
    assert [w.name for w in new.waves] == ["Reminder"]


def test_roles_and_csrf(
    logged_in: Callable[..., TestClient], web: Any, factory: sessionmaker[Session]
) -> None:
    segment, young = _base(factory)
    analyst = logged_in("analyst")
    assert analyst.get("/campaigns/new").status_code == 403
    token = web.page_token(analyst, "/campaigns")
    form = _form(segment, young)
    assert analyst.post("/campaigns/new", data=form | {"csrf_token": token}).status_code == 403
    marketer = logged_in("marketer", "maria")
    assert marketer.post("/campaigns/new", data=form).status_code == 403  # no CSRF token
    assert marketer.post("/campaigns/new", data=form | {"op": "add-wave"}).status_code == 403
    assert _count(factory) == 0


def test_a_chosen_segment_is_cleared(
    logged_in: Callable[..., TestClient], web: Any, factory: sessionmaker[Session]
) -> None:
    """The campaign's target and a cell's own segment, once chosen, are set back to none."""
    segment, young = _base(factory)
    client = logged_in("marketer")
    token = web.page_token(client, "/campaigns/new")
    made = client.post("/campaigns/new", data=_form(segment, young) | {"csrf_token": token},
                       follow_redirects=False)  # fmt: skip
    assert made.status_code == 303, _summary(made.text)
    campaign_id = int(made.headers["location"].rsplit("/", 1)[1])
    data = _form(segment, young) | {"csrf_token": token, "segment_id": "",
                                    "cells-1-segment_id": ""}  # fmt: skip
    data.pop("code")
    cleared = client.post(f"/campaigns/{campaign_id}/edit", data=data, follow_redirects=False)
    assert cleared.status_code == 303, _summary(cleared.text)
    with factory() as s:
        shown = service.describe(s, service.get_campaign(s, campaign_id))
    assert shown.segment_id is None
    assert [(c.code, c.segment_id) for c in shown.cells] == [("A", None), ("B", None),
                                                             ("HOLD", None)]  # fmt: skip
    page = client.get(f"/campaigns/{campaign_id}/edit").text
    for name in ("segment_id", "cells-1-segment_id"):
        select_ = re.search(rf'<select id="f-{name}".*?</select>', page, re.S)
        assert select_ and " selected" not in select_.group(0)  # the empty choice shows
    # and chosen again
    data |= {"segment_id": str(young)}
    chosen = client.post(f"/campaigns/{campaign_id}/edit", data=data, follow_redirects=False)
    assert chosen.status_code == 303, _summary(chosen.text)
    with factory() as s:
        assert service.describe(s, service.get_campaign(s, campaign_id)).segment_id == young
