"""Rolling an import back is a mass delete that honours the rule of a person delete (issue 13
item 1): an agent may not; an admin's rollback keeps the persons who have gained history
since (a later order, a consent recorded since) and says so, with the real time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from tests.api.test_imports_api import IMPORTS, _imported, _upload

from closedloop.consent.service import record_consent
from closedloop.contacts.models import Person
from closedloop.db.uow import unit_of_work
from closedloop.vocab import Channel, ConsentMethod, ConsentState, Purpose

CSV = (
    "external_id;Prénom;Nom;Courriel\n"
    "A1;Jean;Dupont;jean@dupont.fr\n"
    "A2;Ana;Pop;ana@pop.ro\n"
    "A3;Eva;Nowak;eva@nowak.pl\n"
)


def test_admin_rollback_keeps_the_persons_with_history(
    client: TestClient,
    admin: dict[str, str],
    auth: Callable[..., dict[str, str]],
    engine: Engine,
    factory: sessionmaker[Session],
) -> None:
    batch = _imported(client, admin, engine, _upload(client, admin, CSV))["batch_id"]
    # Jean orders through the shop's sync API afterwards; Ana consents on the web.
    order = {
        "external_id": "O-1",
        "person_external_id": "A1",
        "ordered_at": "2026-01-05",
        "total_amount": "24,00",
    }
    synced = client.post("/api/v1/sync/orders?source=shop", json=order, headers=admin)
    assert synced.status_code == 201, synced.text
    with unit_of_work(factory) as s:
        ana = s.scalars(select(Person).where(Person.external_id == "A2")).one()
        record_consent(
            s, ana.id, Channel.EMAIL, Purpose.NEWSLETTER, ConsentState.GRANTED,
            method=ConsentMethod.WEB_FORM, proof_text="Oui, la lettre.", proof_version="v1",
        )  # fmt: skip
    # An agent may not roll back (a mass delete).
    assert client.post(f"{IMPORTS}/{batch}/rollback", headers=auth("agent")).status_code == 403
    rolled = client.post(f"{IMPORTS}/{batch}/rollback", headers=admin)
    assert rolled.status_code == 200, rolled.text
    done = rolled.json()
    assert (done["persons_removed"], done["persons_kept"]) == (1, 2)
    assert done["kept_because"] == {
        "orders from another import or the API": 1,
        "consents recorded since": 1,
    }
    assert done["rolled_back_at"] is not None
    stored = client.get(f"{IMPORTS}/{batch}", headers=admin).json()
    assert stored["status"] == "rolled_back"
    assert datetime.fromisoformat(stored["rolled_back_at"]) == datetime.fromisoformat(
        done["rolled_back_at"]
    )
    with factory() as s:
        kept = sorted(s.scalars(select(Person.external_id)))
    assert kept == ["A1", "A2"]  # Jean with his order, Ana with her consent; Eva is gone
