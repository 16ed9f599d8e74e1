"""Opens and clicks through the real app: signed links, repeats counted, machines apart,
early hits linked later, forged links refused without a word about the message."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.campaigns import tracking
from closedloop.campaigns.models import Communication
from closedloop.contacts.models import Person
from closedloop.db.uow import unit_of_work
from closedloop.interfaces import webhooks
from closedloop.interfaces.models import WebhookDelivery
from closedloop.responses.models import Response

SHOP = "https://shop.example.com/books?id=7&src=mail"


def path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path


def rows(factory: sessionmaker[Session]) -> list[Response]:
    with factory() as s:
        return list(s.scalars(select(Response).order_by(Response.id)))


def test_the_same_click_a_thousand_times_is_one_click_counted_1000_times(
    app: FastAPI, factory: sessionmaker[Session], sent_wave: Callable[..., tuple]
) -> None:
    setup, comms = sent_wave(2)
    link = path(tracking.click_url(comms[0], SHOP))
    with TestClient(app) as browser:
        for _ in range(1000):
            answer = browser.get(link, follow_redirects=False)
            assert answer.status_code == 302
            assert answer.headers["location"] == SHOP
    # The client's exit is the server's clean shutdown: nothing waiting is lost.
    found = rows(factory)
    assert len(found) == 1
    click = found[0]
    assert (click.kind, click.hits, click.machine) == ("click", 1000, None)
    assert click.person_id == setup.person_ids[0]
    assert (click.campaign_id, click.wave_id, click.cell_id, click.communication_id) == (
        setup.campaign_id,
        setup.wave_id,
        setup.cell_id,
        comms[0],
    )
    assert click.detail == {"url": SHOP}


def test_opens_give_the_pixel_and_are_counted_per_message(
    app: FastAPI,
    factory: sessionmaker[Session],
    sent_wave: Callable[..., tuple],
    settings_env: Callable[..., None],
) -> None:
    settings_env(tracking_flush_ms=0)
    _, comms = sent_wave(2)
    with TestClient(app) as browser:
        for comm in (comms[0], comms[0], comms[1]):
            answer = browser.get(path(tracking.open_url(comm)))
            assert answer.status_code == 200
            assert answer.headers["content-type"] == "image/gif"
            assert answer.content.startswith(b"GIF89a")
            assert "no-store" in answer.headers["cache-control"]
    opens = {r.communication_id: r.hits for r in rows(factory)}
    assert opens == {comms[0]: 2, comms[1]: 1}


def test_forged_and_swapped_tokens_are_refused_without_naming_the_message(
    app: FastAPI,
    factory: sessionmaker[Session],
    sent_wave: Callable[..., tuple],
    settings_env: Callable[..., None],
) -> None:
    settings_env(tracking_flush_ms=0)
    _, comms = sent_wave(1)
    good = tracking.click_token(comms[0], SHOP)
    head, _, sig = good.partition(".")
    forged_target = tracking._b64(f"{comms[0]}|https://evil.example.net/".encode()) + "." + sig
    open_as_click = tracking.open_token(comms[0])
    tampered_sig = head + "." + ("A" if sig[0] != "A" else "B") + sig[1:]
    with TestClient(app) as browser:
        for token in (forged_target, open_as_click, tampered_sig, "x", head, "a.b.c"):
            answer = browser.get(f"/t/c/{token}", follow_redirects=False)
            assert answer.status_code == 404, token
            assert answer.text == "This link is not valid."
            assert "location" not in answer.headers
        assert browser.get(f"/t/o/{tracking.click_token(comms[0], SHOP)}.gif").status_code == 404
    assert rows(factory) == []


def test_machines_are_counted_apart_from_people(
    app: FastAPI,
    factory: sessionmaker[Session],
    sent_wave: Callable[..., tuple],
    settings_env: Callable[..., None],
) -> None:
    # a minute's margins, so that a loaded machine's slow requests do not change the verdicts
    settings_env(tracking_flush_ms=0, scanner_seconds=60, scanner_window_seconds=60)
    _, comms = sent_wave(3)
    _, fresh = sent_wave(1, ago=timedelta(seconds=1), code="C2")
    apple = TestClient(app, client=("17.58.1.2", 40000))
    person = TestClient(app, client=("192.0.2.7", 40000))
    with apple, person:
        apple.get(path(tracking.open_url(comms[0])))  # Mail Privacy Protection prefetch
        person.get(path(tracking.open_url(comms[0])))  # the person reads it later
        person.head(path(tracking.click_url(comms[1], SHOP)))  # a link checker's HEAD
        person.get(
            path(tracking.click_url(comms[1], SHOP)),
            headers={"User-Agent": "Mozilla/5.0 (compatible; Barracuda Sentinel)"},
            follow_redirects=False,
        )
        person.get(path(tracking.click_url(fresh[0], SHOP)), follow_redirects=False)  # at once
        for n in range(4):  # a scanner following every link of the message in a second
            person.get(path(tracking.click_url(comms[2], f"{SHOP}&n={n}")), follow_redirects=False)
    found = [(r.communication_id, r.kind, r.machine) for r in rows(factory)]
    assert (comms[0], "open", "privacy_proxy") in found
    assert (comms[0], "open", None) in found
    assert (comms[1], "click", "head") in found
    assert (comms[1], "click", "scanner") in found
    assert (fresh[0], "click", "scanner") in found
    third = [m for c, _, m in found if c == comms[2]]
    assert third.count("scanner") >= 2  # from the third link on, a burst is a scanner's
    assert not [1 for c, k, m in found if c == comms[1] and m is None]


def test_a_hit_before_its_message_is_recorded_is_kept_and_linked_later(
    app: FastAPI,
    factory: sessionmaker[Session],
    sent_wave: Callable[..., tuple],
    settings_env: Callable[..., None],
) -> None:
    settings_env(tracking_flush_ms=0)
    setup, comms = sent_wave(1)
    early = max(comms) + 5
    with TestClient(app) as browser:
        assert (
            browser.get(path(tracking.click_url(early, SHOP)), follow_redirects=False).status_code
            == 302
        )
        (waiting,) = rows(factory)
        assert (waiting.person_id, waiting.ref, waiting.hits) == (None, f"c:{early}", 1)
        with unit_of_work(factory) as s:
            s.add(
                Communication(
                    id=early,
                    person_id=setup.person_ids[0],
                    campaign_id=setup.campaign_id,
                    wave_id=setup.wave_id,
                    cell_id=setup.cell_id,
                    channel="email",
                    status="sent",
                    sent_at=datetime.now(UTC) - timedelta(hours=1),
                )
            )
        browser.get(path(tracking.open_url(comms[0])))  # any later write links it
    linked = next(r for r in rows(factory) if r.kind == "click")
    assert (linked.person_id, linked.communication_id, linked.ref) == (
        setup.person_ids[0],
        early,
        None,
    )
    assert (linked.wave_id, linked.cell_id) == (setup.wave_id, setup.cell_id)


def test_a_link_of_a_deleted_person_leads_on_but_stores_nothing(
    app: FastAPI,
    factory: sessionmaker[Session],
    sent_wave: Callable[..., tuple],
    settings_env: Callable[..., None],
) -> None:
    settings_env(tracking_flush_ms=0)
    setup, comms = sent_wave(2)
    with unit_of_work(factory) as s:
        s.execute(delete(Person).where(Person.id == setup.person_ids[0]))
    with TestClient(app) as browser:
        answer = browser.get(path(tracking.click_url(comms[0], SHOP)), follow_redirects=False)
        assert answer.status_code == 302
    assert rows(factory) == []


def test_the_one_click_unsubscribe_is_a_response_of_the_last_email(
    app: FastAPI, factory: sessionmaker[Session], sent_wave: Callable[..., tuple]
) -> None:
    from closedloop.consent import unsubscribe_url

    setup, comms = sent_wave(1)
    link = path(unsubscribe_url(setup.person_ids[0]))
    with TestClient(app) as browser:
        for _ in range(2):  # a mail client posting twice
            answer = browser.post(link, data={"List-Unsubscribe": "One-Click"})
            assert answer.status_code == 200
    (row,) = rows(factory)
    assert (row.kind, row.communication_id, row.person_id) == (
        "unsubscribe",
        comms[0],
        setup.person_ids[0],
    )
    assert (row.wave_id, row.cell_id) == (setup.wave_id, setup.cell_id)


def test_the_write_behind_under_back_pressure_loses_nothing(
    factory: sessionmaker[Session], sent_wave: Callable[..., tuple]
) -> None:
    from closedloop.responses.collector import Collector
    from closedloop.responses.hits import Hit

    _, comms = sent_wave(2)
    collector = Collector(factory, flush_ms=20, max_pending=5)  # waits from 10 on
    at = datetime.now(UTC)
    for n in range(300):
        collector.add(Hit(comms[n % 2], at, f"{SHOP}&n={n % 7}" if n % 3 else None))
        assert len(collector.pending) <= 11
    collector.close()
    found = rows(factory)
    assert sum(r.hits for r in found) == 300
    assert len(found) == 2 * 7 + 2  # per message: its 7 links (a burst: a scanner) and the open


def test_a_first_click_is_announced_to_webhooks_once_with_its_row(
    app: FastAPI,
    factory: sessionmaker[Session],
    sent_wave: Callable[..., tuple],
    allow_private_webhooks: None,
) -> None:
    """``response_recorded`` gets the stored row (read with Core, not as an ORM object): the
    ``response.recorded`` payload carries its columns; a repeat is not announced again."""
    setup, comms = sent_wave(2)
    with unit_of_work(factory) as s:
        webhooks.create_endpoint(s, "http://127.0.0.1:9/in", ["response.recorded"])
    link = path(tracking.click_url(comms[0], SHOP))
    with TestClient(app) as browser:
        for _ in range(3):
            assert browser.get(link, follow_redirects=False).status_code == 302
    (click,) = rows(factory)
    with factory() as s:
        bodies = [json.loads(b) for b in s.scalars(select(WebhookDelivery.body))]
    assert [b["type"] for b in bodies] == ["response.recorded"]
    data = bodies[0]["data"]
    assert (data["response_id"], data["person_id"], data["kind"]) == (
        click.id,
        setup.person_ids[0],
        "click",
    )
    assert (data["campaign_id"], data["communication_id"]) == (setup.campaign_id, comms[0])
