"""The start page's dashboard: the base, who can be reached, revenue by month, attention."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from closedloop.consent.models import Suppression
from closedloop.consent.service import record_consent
from closedloop.contacts.models import Address, Email, Person, Phone
from closedloop.db.uow import unit_of_work
from closedloop.dedupe.models import DuplicateCandidate
from closedloop.jobs.models import Job
from closedloop.transactions.models import Order
from closedloop.vocab import Channel, ConsentMethod, ConsentState, Purpose


def _kpi(html: str, ident: str) -> str:
    found = re.search(rf'id="{ident}">(?:<a [^>]*>)?([^<]+)<', html)
    assert found, ident
    return found.group(1).strip()


def _reachable(html: str, channel: str) -> str:
    found = re.search(rf'data-channel="{channel}">([^<]+)<', html)
    assert found, channel
    return found.group(1).strip()


def _base(factory: sessionmaker[Session]) -> None:
    """Five golden records and one merged away; consents, addresses, a suppression, orders,
    a failed job and a pair to review."""
    with unit_of_work(factory) as s:
        people = [
            Person(given_name=f"P{i}", family_name="Home", lifecycle_status=status)
            for i, status in enumerate(["customer", "customer", "lapsed", "prospect", "won_back"])
        ]
        s.add_all(people)
        s.flush()
        merged = Person(given_name="Gone", family_name="Home", merged_into_id=people[0].id)
        s.add(merged)
        granted = {"method": ConsentMethod.WEB_FORM, "proof_text": "Yes, email me."}
        for p in people[:3]:  # three with an email consent
            s.add(
                Email(
                    person_id=p.id,
                    address=f"{p.given_name}@example.org",
                    address_key=f"{p.given_name.lower()}@example.org",
                    is_primary=True,
                )
            )
            record_consent(
                s, p.id, Channel.EMAIL, Purpose.MARKETING, ConsentState.GRANTED, **granted
            )
        s.add(Email(person_id=people[3].id, address="p3@example.org", address_key="p3@example.org"))
        record_consent(
            s,
            people[3].id,
            Channel.EMAIL,
            Purpose.NEWSLETTER,
            ConsentState.WITHDRAWN,
            method=ConsentMethod.WEB_FORM,
        )
        # one of the three is suppressed on email: not reachable
        s.add(Suppression(person_id=people[2].id, channel="email", reason="bounced"))
        # SMS: a granted consent but no mobile number; letter: consent and an address
        record_consent(
            s, people[1].id, Channel.SMS, Purpose.MARKETING, ConsentState.GRANTED, **granted
        )
        s.add(Phone(person_id=people[4].id, e164="+33612345678", line_type="landline"))
        record_consent(
            s, people[4].id, Channel.LETTER, Purpose.MARKETING, ConsentState.GRANTED, **granted
        )
        s.add(
            Address(
                person_id=people[4].id,
                line1="1 rue de la Paix",
                postal_code="75002",
                locality="Paris",
                country="FR",
            )
        )
        for p, month, amount in [
            (people[0], 10, "100.00"),
            (people[1], 10, "50.50"),
            (people[0], 11, "20.00"),
        ]:
            s.add(
                Order(
                    person_id=p.id,
                    ordered_at=datetime(2026, month, 3, 12, tzinfo=UTC),
                    total_amount=Decimal(amount),
                    currency="EUR",
                    status="completed",
                )
            )
        s.add(
            Order(
                person_id=people[1].id,
                ordered_at=datetime(2026, 11, 4, tzinfo=UTC),
                total_amount=Decimal("999"),
                currency="EUR",
                status="cancelled",
            )
        )
        s.add(
            Job(
                kind="scoring.run",
                status="failed",
                payload={},
                attempts=1,
                max_attempts=1,
                progress=0.3,
                error="An unexpected error stopped it.",
            )
        )
        s.add(
            DuplicateCandidate(
                person_l_id=people[0].id,
                person_r_id=people[1].id,
                status="pending",
                match_probability=0.9,
                match_weight=3.0,
                explanation=[],
                origin="batch",
            )
        )


def test_the_dashboard_counts_the_base_the_reachable_and_the_revenue(
    client: TestClient, logged_in: Callable[..., TestClient], factory: sessionmaker[Session]
) -> None:
    _base(factory)
    logged_in("marketer")
    page = client.get("/")
    assert page.status_code == 200
    html = page.text
    assert (
        _kpi(html, "kpi-persons"),
        _kpi(html, "kpi-customers"),
        _kpi(html, "kpi-prospects"),
    ) == ("5", "4", "1")
    # email: 3 granted, one suppressed; the withdrawn one does not count
    assert _reachable(html, "email") == "2"
    assert _reachable(html, "sms") == "0"  # consent without a mobile number
    assert _reachable(html, "phone") == "0"  # a number without consent
    assert _reachable(html, "letter") == "1"
    months = re.findall(
        r"<tr><td>([^<]+)</td><td class=\"num\">([^<]+)</td>"
        r"<td class=\"num\">([^<]+)</td></tr>",
        html,
    )
    assert months[-2:] == [("Oct 2026", "€150.50", "2"), ("Nov 2026", "€20.00", "1")]
    assert len(months) == 24
    assert "1 background job failed" in html and 'href="/jobs?status=failed"' in html
    assert "1 pair of possible duplicates to review" in html
    assert "Scoring run" in html and "Failed" in html  # the latest jobs, labelled


def test_an_agent_sees_the_base_but_neither_revenue_nor_jobs(
    client: TestClient, logged_in: Callable[..., TestClient], factory: sessionmaker[Session]
) -> None:
    _base(factory)
    logged_in("agent")
    html = client.get("/").text
    assert _kpi(html, "kpi-persons") == "5"
    assert 'id="revenue"' not in html and 'id="latest-jobs"' not in html
    assert "background job failed" not in html


def test_the_dashboard_of_an_empty_base_and_in_french(
    client: TestClient, logged_in: Callable[..., TestClient]
) -> None:
    logged_in("admin", locale="fr")
    html = client.get("/").text
    assert _kpi(html, "kpi-persons") == "0"
    assert 'id="attention"' not in html
