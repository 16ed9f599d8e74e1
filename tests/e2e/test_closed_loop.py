"""Issue 18: the whole loop with real parts, as a user would run it.

Customers come in through the sync API (``/api/v1/sync/persons``), give their email consent;
two campaigns are created with the campaign service, each with a control group: SPRING (a
planted effect) and QUIET (none). They are approved, launched (extraction), and their waves
sent by the real sender to a real SMTP server (aiosmtpd). Simulated customers read the
received messages and follow their REAL tracked links (the open pixel and the click redirect)
over HTTP against the app served by uvicorn, then buy through ``/api/v1/sync/orders``.
``closedloop campaigns report ID --json`` must find SPRING's planted lift inside its 95 %
interval, and say QUIET had no measurable effect.

Why this cannot flake. Cells are assigned by the product's seeded hash (reproducible), and the
buyers are drawn with a fixed seed as exact quotas of each cell (``round(rate × members)``
members, chosen by ``random.Random(SEED)``), so the observed rates equal the planted ones up to
rounding (< 0.5 / members ≈ 0.25 point) whatever the assignment gives. SPRING: 30 % against
10 % with ~200 members a side: the difference's standard error is ~3.9 points, so the planted
20 points lie ~0.1 SE from the estimate (the 95 % interval is ±7.6 points) and z ≈ 5
(p < 1e-6): a false result would need the assignment to put fewer than ~60 members in a
cell, which a 50/50 split of 400 does with probability < 1e-30 (binomial tail). QUIET: both
cells buy at exactly 10 % (up to rounding), so its z is ~0 and p ≈ 1 > 0.05: "no measurable
effect". The window is still open when the report is read, so its verdict adds "so far".
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.campaigns.waves import email_template
from tests.mail import Inbox, smtp_server
from typer.testing import CliRunner

from closedloop.campaigns import lifecycle, service
from closedloop.campaigns.models import Campaign, CampaignMember, Cell, Offer
from closedloop.campaigns.schemas import CampaignCreate, CellCreate, WaveCreate
from closedloop.campaigns.sender import WaveSender
from closedloop.cli.main import app as cli
from closedloop.consent.service import record_consent
from closedloop.contacts.models import Email
from closedloop.db.uow import unit_of_work
from closedloop.responses.settings import get_response_settings
from closedloop.segments import freeze_members
from closedloop.vocab import Channel, ConsentMethod, ConsentState, Purpose

pytestmark = pytest.mark.slow

SEED = 20261207
PER_CAMPAIGN = 400
PROOF = "Yes, send me offers."
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120"


@pytest.fixture()
def tracking_now(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Hits written before their answer; a click seconds after the send is a person's here
    (the simulated customers read their mail at once)."""
    monkeypatch.setenv("CLOSEDLOOP_TRACKING_FLUSH_MS", "0")
    monkeypatch.setenv("CLOSEDLOOP_SCANNER_SECONDS", "0")
    get_response_settings.cache_clear()
    yield
    get_response_settings.cache_clear()


def _sync(api: httpx.Client, what: str, items: Sequence[Mapping[str, object]]) -> None:
    for start in range(0, len(items), 500):
        answer = api.post(
            f"/api/v1/sync/{what}?source=shop", json={"items": items[start : start + 500]}
        )
        assert answer.status_code == 200, answer.text


def _customers(api: httpx.Client, factory: sessionmaker[Session], code: str) -> list[int]:
    """PER_CAMPAIGN persons synced from the shop, each with an email consent; their ids."""
    people = [
        {"external_id": f"{code}-{i}", "given_name": "Ann", "family_name": f"{code}{i}",
         "email": f"{code.lower()}{i}@example.org"}
        for i in range(PER_CAMPAIGN)
    ]  # fmt: skip
    _sync(api, "persons", people)
    with unit_of_work(factory) as s:
        found = s.query(Email.person_id, Email.address).filter(
            Email.address.like(f"{code.lower()}%@example.org")
        )
        ids = sorted(int(pid) for pid, _ in found if pid is not None)
        for pid in ids:
            record_consent(s, pid, Channel.EMAIL, Purpose.MARKETING, ConsentState.GRANTED,
                           method=ConsentMethod.WEB_FORM, proof_text=PROOF)  # fmt: skip
    assert len(ids) == PER_CAMPAIGN
    return ids


def _campaign(factory: sessionmaker[Session], code: str, people: list[int]) -> int:
    """A campaign on a frozen segment of ``people``: cell A (email) and a control group, half
    each; approved and launched; its wave's id."""
    with unit_of_work(factory) as s:
        segment = freeze_members(s, f"{code} readers", people, {"kind": "test"})
        data = CampaignCreate(
            code=code,
            name=f"Campaign {code}",
            segment_id=segment.id,
            response_window_days=14,
            waves=[WaveCreate(name="Now")],
            cells=[
                CellCreate(code="A", name="Mail", channel=Channel.EMAIL, template="loop-mail",
                       offer="CLUB", share=0.5),
                CellCreate(code="CTL", name="Hold-out", is_control=True, share=0.5),
            ],
        )  # fmt: skip
        campaign_id = service.create_campaign(s, data, created_by="alice").id
        lifecycle.approve(s, campaign_id, by="bob")
    with unit_of_work(factory) as s:
        [start] = lifecycle.launch(s, campaign_id, by="bob").started
    return start.wave_id


def _cells(factory: sessionmaker[Session], code: str) -> dict[str, list[int]]:
    with factory() as s:
        rows = (
            s.query(Cell.code, CampaignMember.person_id)
            .join(CampaignMember, CampaignMember.cell_id == Cell.id)
            .join(Campaign, Campaign.id == Cell.campaign_id)
            .filter(Campaign.code == code)
        )
        out: dict[str, list[int]] = {"A": [], "CTL": []}
        for cell, pid in rows:
            out[cell].append(pid)
    return {k: sorted(v) for k, v in out.items()}


def _quota(rng: random.Random, ids: list[int], rate: float) -> list[int]:
    return rng.sample(ids, round(rate * len(ids)))


def test_the_loop_finds_a_planted_effect_and_no_effect_where_there_is_none(
    tracking_now: None,
    server: str,
    factory: sessionmaker[Session],
    make_token: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = make_token("shop", "admin")
    api = httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    with unit_of_work(factory) as s:
        email_template(s, code="loop-mail")
        s.add(Offer(code="CLUB", name="Book club", price=Decimal("19.90")))
    people = {code: _customers(api, factory, code) for code in ("SPRING", "QUIET")}
    with factory() as s:  # each person's address, and their number at the shop
        address = dict(s.query(Email.person_id, Email.address))
    ext = {pid: re.sub(r"^([a-z]+)(\d+)@.*", r"\1-\2", a).upper() for pid, a in address.items()}
    with smtp_server(monkeypatch, server) as inbox:
        waves = {code: _campaign(factory, code, people[code]) for code in people}
        for wave_id in waves.values():
            sent = WaveSender(factory, wave_id).run()
            assert sent.sent > 0
        cells = {code: _cells(factory, code) for code in people}
        # every treated member got exactly one message, no control member any
        received = [m["To"].addresses[0].addr_spec for m in inbox.messages]
        assert len(received) == len(set(received))
        for code in people:
            treated = {address[p] for p in cells[code]["A"]}
            control = {address[p] for p in cells[code]["CTL"]}
            assert treated <= set(received) and not (control & set(received))
            assert min(len(cells[code]["A"]), len(cells[code]["CTL"])) > 150
        _read_and_click(inbox, server)

    rng = random.Random(SEED)
    rates = {("SPRING", "A"): 0.30, ("SPRING", "CTL"): 0.10,
             ("QUIET", "A"): 0.10, ("QUIET", "CTL"): 0.10}  # fmt: skip
    orders: list[dict[str, object]] = []
    now = datetime.now(UTC).isoformat()
    for (code, cell), rate in rates.items():
        for pid in _quota(rng, cells[code][cell], rate):
            order = {"external_id": f"O-{pid}", "person_external_id": ext[pid], "ordered_at": now}
            orders.append({**order, "total_amount": "40.00", "currency": "EUR"})
    _sync(api, "orders", orders)
    api.close()

    reports = {}
    for code in people:
        with factory() as s:
            campaign_id = service.find_campaign(s, code).id
        out = CliRunner().invoke(cli, ["campaigns", "report", str(campaign_id), "--json"])
        assert out.exit_code == 0, out.output
        reports[code] = json.loads(out.stdout)

    for (code, cell), rate in rates.items():  # every order attributed, to the buyer's cell
        group = reports[code]["control" if cell == "CTL" else "total"]
        assert group["members"] == len(cells[code][cell])
        assert group["converted"] == round(rate * len(cells[code][cell])), (code, cell, group)
        assert group["revenue"] == pytest.approx(40.0 * group["converted"])
    spring = reports["SPRING"]
    treated = spring["total"]
    conv = treated["lift"]["conversion"]
    assert treated["contacted"] == treated["delivered"] == len(cells["SPRING"]["A"])
    assert treated["opened"] == treated["clicked"] == len(cells["SPRING"]["A"])
    assert conv["ci_low"] < 0.20 < conv["ci_high"], conv
    assert conv["ci_low"] > 0 and treated["lift"]["significant"]
    assert spring["verdict"].startswith("the campaign worked"), spring["verdict"]
    quiet = reports["QUIET"]
    assert not quiet["total"]["lift"]["significant"]
    assert "no measurable effect: direct marketing failed here" in quiet["verdict"]
    assert "not final" in quiet["verdict"]  # the window is still open: said in the verdict


def _read_and_click(inbox: Inbox, server: str) -> None:
    """Each recipient opens the message (its pixel) and clicks its offer's tracked link, as a
    browser would."""
    people = httpx.Client(headers={"User-Agent": BROWSER}, timeout=30)
    with people:
        for message in inbox.messages:
            html = message.get_body(preferencelist=("html",))
            assert html is not None
            body = str(html.get_content())
            pixel = re.search(re.escape(server) + r"/t/o/[^\"' >]+", body)
            click = re.search(re.escape(server) + r"/t/c/[^\"' >]+", body)
            assert pixel and click, body
            assert people.get(pixel.group(0)).status_code == 200
            answer = people.get(click.group(0).replace("&amp;", "&"), follow_redirects=False)
            assert answer.status_code in (302, 303, 307), answer.text
            assert answer.headers["location"].startswith("https://shop.example.com/books")
