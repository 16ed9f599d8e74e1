"""The person card: every data group, empty sections that say so, and the audit of each view."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.automation.models import Appointment, Task
from closedloop.campaigns.models import Campaign, Communication
from closedloop.db.uow import unit_of_work
from closedloop.responses.models import Response
from closedloop.scoring.models import PersonScore, ScoreRun
from closedloop.users.models import AuditEvent, User

SECTIONS = (
    "identity",
    "contact",
    "relationships",
    "attributes",
    "consents",
    "orders",
    "communications",
    "responses",
    "scores",
    "tasks",
)


def _section(html: str, name: str) -> str:
    found = re.search(rf'<section class="panel[^"]*" id="{name}".*?</section>', html, re.S)
    assert found, f"section {name} missing"
    return found.group(0)


def _text(html: str) -> str:
    """Visible text with every kind of space made a plain space."""
    text = re.sub(r"<[^>]+>", " ", html)
    return " ".join(text.replace("\u202f", " ").replace("\xa0", " ").split())


def test_card_of_a_new_person_has_every_section_saying_nothing_yet(
    client: TestClient, logged_in: Callable[..., TestClient], people: dict[str, int]
) -> None:
    logged_in("agent")
    html = client.get(f"/persons/{people['Ștefănescu']}").text
    for name in SECTIONS:
        _section(html, name)
    assert "<h1>Ana Ștefănescu</h1>" in html
    assert "No order yet." in html
    assert "Nothing sent to this person yet." in html
    assert "No response recorded yet." in html
    assert "No score computed yet." in html
    assert "No task yet." in html and "No appointment yet." in html
    assert "No consent recorded yet" in html
    assert "No attribute recorded yet." in html
    assert "No household or relationship recorded." in html
    assert "Not on any suppression list." in html
    assert "București" in html and "+40 721 234 567" in html


def test_card_shows_identity_contacts_relations_and_attributes(
    client: TestClient, logged_in: Callable[..., TestClient], rich_card: int, people: dict[str, int]
) -> None:
    logged_in("agent")
    html = client.get(f"/persons/{rich_card}").text
    identity = _text(_section(html, "identity"))
    assert "Jean" in identity and "Dupont" in identity and "Customer" in identity
    assert "erp" in identity and "C-1001" in identity
    contact = _text(_section(html, "contact"))
    assert "jean.dupont@example.com" in contact and "primary" in contact
    assert "+33 6 12 34 56 78" in contact and "Mobile" in contact
    assert "12 rue de la Roquette" in contact and "75011 Paris" in contact
    assert "Not checked" in contact
    assert "Coordinates: 48.8553, 2.3729" in contact
    relations = _section(html, "relationships")
    assert "Foyer Dupont" in relations
    assert f'<a href="/persons/{people["Ștefănescu"]}">Ana Ștefănescu</a>' in relations
    assert "Referred by" in relations
    attributes = _text(_section(html, "attributes"))
    assert "Interests Hobbies Books, Hiking" in attributes
    assert "Demographic Children 2" in attributes


def test_card_shows_consent_grid_history_and_suppressions(
    client: TestClient, logged_in: Callable[..., TestClient], rich_card: int
) -> None:
    logged_in("agent")
    consents = _section(client.get(f"/persons/{rich_card}").text, "consents")
    grid = _text(consents.split("Consent history")[0])
    assert "Email ✕ Withdrawn since Jan 20, 2025" in grid
    assert "✓ Granted since Jun 1, 2024" in grid
    history = _text(consents.split("Consent history", 1)[1])
    assert "J'accepte de recevoir les offres par e-mail." in history.replace("&#39;", "'")
    assert "text version v3" in history and "Web form" in history and "webshop" in history
    assert "Unsubscribe link" in history and "mailer" in history
    assert "Paper form" in history and "2023-01" in history
    # Newest first.
    assert (
        history.index("Jan 20, 2025") < history.index("Jun 1, 2024") < history.index("Mar 5, 2024")
    )
    assert "Bounced" in consents and "NPAI" in consents


def test_card_shows_orders_with_lines(
    client: TestClient, logged_in: Callable[..., TestClient], rich_card: int
) -> None:
    logged_in("agent")
    orders = _text(_section(client.get(f"/persons/{rich_card}").text, "orders"))
    assert "Orders 1" in orders
    assert "Revenue €1,234.50" in orders
    assert "First order Mar 5, 2024" in orders
    assert "WEB-42" in orders and "webshop" in orders
    assert "Le Petit Prince BK-001 2 €12.25 €24.50" in orders
    assert "Lampe de bureau LP-7 1 €1,210.00 €1,210.00" in orders


def test_card_lists_rows_of_the_later_sections_when_present(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    people: dict[str, int],
    factory: sessionmaker[Session],
) -> None:
    pid = people["王"]
    at = datetime(2025, 5, 4, 9, 0, tzinfo=UTC)
    with unit_of_work(factory) as s:
        campaign = Campaign(code="SPRING", name="Printemps 2025")
        s.add(campaign)
        s.flush()
        s.add(
            Communication(
                person_id=pid,
                campaign_id=campaign.id,
                channel="email",
                status="delivered",
                subject="Nos nouveautés",
                sent_at=at,
            )
        )
        s.add(Response(person_id=pid, campaign_id=campaign.id, kind="click", occurred_at=at))
        run = ScoreRun(status="done", as_of=at)
        s.add(run)
        s.flush()
        s.add(
            PersonScore(
                run_id=run.id,
                person_id=pid,
                frequency=3,
                rfm_code="545",
                p_alive=0.82,
                clv=Decimal("310.00"),
                tier="A",
            )
        )
        s.add(Task(person_id=pid, kind="call", title="Rappeler pour le devis", due_at=at))
        s.add(Appointment(person_id=pid, subject="Visite magasin", starts_at=at, location="北京"))
    logged_in("agent")
    html = client.get(f"/persons/{pid}").text
    assert "Printemps 2025" in _section(html, "communications")
    assert "Delivered" in _section(html, "communications")
    assert "Click" in _section(html, "responses")
    scores = _text(_section(html, "scores"))
    assert "545" in scores and "82%" in scores and "€310.00" in scores
    tasks = _section(html, "tasks")
    assert "Rappeler pour le devis" in tasks and "Visite magasin" in tasks


def test_every_card_view_is_audited(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    people: dict[str, int],
    factory: sessionmaker[Session],
) -> None:
    logged_in("analyst")
    pid = people["Dupont"]
    client.get(f"/persons/{pid}")
    client.get(f"/persons/{pid}")
    with factory() as s:
        uid = s.scalars(select(User.id).where(User.username == "analyst")).one()
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "viewed", AuditEvent.entity == "person")
        ).all()
    assert len(events) == 2
    assert {(e.user_id, e.entity_id, e.channel) for e in events} == {(uid, str(pid), "web")}
