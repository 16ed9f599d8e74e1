"""Event pages: the public answer page (signed link; forged, erased, over and full cases;
French), the staff's list, form, event page and door, and the QR check-in address."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.events.setup import end_event, invited
from tests.web.conftest import csrf_from

from closedloop.campaigns.tracking import checkin_url, rsvp_url
from closedloop.consent.models import Suppression
from closedloop.db.uow import unit_of_work
from closedloop.events.models import EventGuest
from closedloop.responses.models import Response

LoggedIn = Callable[..., TestClient]


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def test_the_answer_page_asks_before_answering_and_records_the_answer(
    client: TestClient, factory: sessionmaker[Session]
) -> None:
    with unit_of_work(factory) as s:
        made = invited(s, 1)
    link = _path(rsvp_url(made.messages[0], "yes"))
    page = client.get(link)
    assert page.status_code == 200
    assert "Spring gala" in page.text and "Hôtel de Ville" in page.text
    assert 'value="yes" checked' in page.text  # preselected, not yet recorded
    assert page.headers["referrer-policy"] == "no-referrer"
    with factory() as s:
        assert s.scalars(select(Response)).all() == []
    done = client.post(link.split("?")[0], data={"answer": "yes"})
    assert done.status_code == 200 and 'data-answer="yes"' in done.text
    again = client.post(link.split("?")[0], data={"answer": "yes"})  # a replay
    assert again.status_code == 200
    missing = client.post(link.split("?")[0], data={"answer": "perhaps"})
    assert missing.status_code == 422 and "Please choose an answer." in missing.text
    with factory() as s:
        assert [r.kind for r in s.scalars(select(Response))] == ["rsvp"]
    assert "Your answer so far: Yes." in client.get(link).text


def test_a_booked_guest_gets_the_door_code_of_their_own_invitation(
    client: TestClient, factory: sessionmaker[Session]
) -> None:
    """The QR code holds the invitation's signed check-in address: the one the door opens."""
    import segno

    with unit_of_work(factory) as s:
        made = invited(s, 2)
    first, second = (_path(rsvp_url(m)) for m in made.messages)
    assert 'id="door-code"' not in client.get(first).text  # not booked yet
    done = client.post(first, data={"answer": "yes"})
    code = segno.make(checkin_url(made.messages[0]), error="m").svg_inline(scale=4, omitsize=False)
    assert code in done.text and "Show this code at the door" in done.text
    assert code in client.get(first).text  # and again when the guest comes back
    other = segno.make(checkin_url(made.messages[1]), error="m").svg_inline(scale=4, omitsize=False)
    assert other not in done.text
    declined = client.post(second, data={"answer": "no"})
    assert 'id="door-code"' not in declined.text


def test_forged_erased_and_past_invitations_get_a_clear_page(
    client: TestClient, factory: sessionmaker[Session]
) -> None:
    with unit_of_work(factory) as s:
        made = invited(s, 2)
        s.add(Suppression(person_id=made.person_ids[1], reason="erased", note="right to erasure"))
    good = _path(rsvp_url(made.messages[0]))
    forged = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    as_rsvp = _path(checkin_url(made.messages[0])).replace("/e/c/", "/e/r/")
    for path in (forged, "/e/r/not-a-token", as_rsvp):
        got = client.get(path)
        assert got.status_code == 404 and 'data-reason="invalid"' in got.text, path
        assert client.post(path, data={"answer": "yes"}).status_code == 404
    erased = client.get(_path(rsvp_url(made.messages[1])))
    assert erased.status_code == 410 and 'data-reason="gone"' in erased.text
    assert client.post(_path(rsvp_url(made.messages[1])), data={"answer": "yes"}).status_code == 410
    with unit_of_work(factory) as s:
        end_event(s, made.event_id)
    over = client.get(good)
    assert over.status_code == 410 and 'data-reason="over"' in over.text
    assert client.post(good, data={"answer": "yes"}).status_code == 410
    with factory() as s:
        assert s.scalars(select(Response)).all() == []


def test_a_full_event_says_so_and_waitlists_in_french(
    client: TestClient, factory: sessionmaker[Session]
) -> None:
    with unit_of_work(factory) as s:
        made = invited(s, 2, capacity=1)
    fr = {"Accept-Language": "fr-FR,fr;q=0.9"}
    first = _path(rsvp_url(made.messages[0]))
    client.post(first, data={"answer": "yes"}, headers=fr)
    second = _path(rsvp_url(made.messages[1]))
    page = client.get(second, headers=fr)
    assert '<html lang="fr">' in page.text
    assert "Viendrez-vous ?" in page.text and "liste d’attente" in page.text
    done = client.post(second, data={"answer": "yes"}, headers=fr)
    assert 'data-answer="waitlist"' in done.text and "liste d’attente" in done.text
    assert "Will you come" not in page.text


def test_staff_create_an_event_read_its_page_and_check_guests_in(
    client: TestClient, logged_in: LoggedIn, factory: sessionmaker[Session]
) -> None:
    with unit_of_work(factory) as s:
        made = invited(s, 3, capacity=10)
    logged_in("marketer")
    listed = client.get("/events")
    assert listed.status_code == 200 and "GALA" in listed.text
    form = {
        "csrf_token": csrf_from(listed.text), "code": "TALK", "name": "Evening talk",
        "starts_at": "2027-03-01T19:00", "ends_at": "2027-03-01T18:00", "timezone": "Europe/Paris",
    }  # fmt: skip
    refused = client.post("/events", data=form)
    assert refused.status_code == 422 and "end after it starts" in refused.text
    made_talk = client.post("/events", data={**form, "ends_at": "2027-03-01T21:00"})
    assert made_talk.status_code == 200 and "Evening talk" in made_talk.text
    client.post(_path(rsvp_url(made.messages[0])), data={"answer": "yes"})
    client.post(_path(rsvp_url(made.messages[1])), data={"answer": "no"})
    page = client.get(f"/events/{made.event_id}")
    assert re.search(r'data-state="yes"[^>]*>Yes: <strong>1</strong>', page.text)
    assert re.search(r'data-state="invited"[^>]*>Invited: <strong>3</strong>', page.text)
    assert "1 / 10" in page.text
    door = client.get(f"/events/{made.event_id}/door", params={"q": "reader0"})
    assert door.status_code == 200
    assert f'data-person="{made.person_ids[0]}"' in door.text
    assert f'data-person="{made.person_ids[1]}"' not in door.text
    token = csrf_from(door.text)
    for _ in range(2):
        checked = client.post(
            f"/events/{made.event_id}/door",
            data={"csrf_token": token, "person_id": str(made.person_ids[0]), "q": "reader0"},
        )
        assert checked.status_code == 200
    assert "Already checked in." in checked.text
    qr = client.get(_path(checkin_url(made.messages[1])))
    assert qr.status_code == 200 and "<h1>Checked in</h1>" in qr.text
    assert "Already checked in" in client.get(_path(checkin_url(made.messages[1]))).text
    forged = client.get(_path(rsvp_url(made.messages[1])).replace("/e/r/", "/e/c/"))
    assert forged.status_code == 404
    with factory() as s:
        came = s.scalars(select(EventGuest.person_id).where(EventGuest.checked_in_at.is_not(None)))
        assert sorted(came) == sorted(made.person_ids[:2])
        kinds = s.scalars(
            select(Response.kind).where(Response.kind == "attendance").order_by(Response.id)
        ).all()
        assert kinds == ["attendance", "attendance"]
    campaign = client.get(f"/campaigns/{made.campaign_id}")
    assert f'<a href="/events/{made.event_id}">Spring gala</a>' in campaign.text
    card = client.get(f"/persons/{made.person_ids[0]}")
    assert "Invitation answer: Yes" in card.text and "Attendance: Attended" in card.text


def test_the_door_needs_persons_write_and_the_qr_code_a_login(
    client: TestClient, logged_in: LoggedIn, factory: sessionmaker[Session]
) -> None:
    with unit_of_work(factory) as s:
        made = invited(s, 1)
    qr = _path(checkin_url(made.messages[0]))
    anonymous = client.get(qr, follow_redirects=False)
    assert anonymous.status_code == 303 and "/login" in anonymous.headers["location"]
    logged_in("analyst")
    assert client.get(f"/events/{made.event_id}").status_code == 200
    assert client.get(f"/events/{made.event_id}/door").status_code == 403
    assert client.get(qr).status_code == 403
    with factory() as s:
        assert s.scalars(select(EventGuest)).all() == []
