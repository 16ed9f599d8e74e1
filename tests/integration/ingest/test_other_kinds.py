"""Organisations, products, orders, order lines, relationships, consents and attribute values:
each imported, imported again without change, and rolled back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from closedloop.ingest.service.batches import rollback_batch
from closedloop.ingest.service.runner import Summary

Load = Callable[..., Summary]
Rows = Callable[..., list[tuple[Any, ...]]]
Write = Callable[..., Path]


@pytest.fixture()
def people(write: Write, load: Load) -> Summary:
    return load(write("p.csv", "external_id,given_name,family_name\nC1,Jean,Dupont\nC2,Ana,Pop\n"))


def test_organisations_with_contact_points(write: Write, load: Load, rows: Rows) -> None:
    content = (
        "Raison sociale;SIRET;Effectif;Chiffre d'affaires;Code postal;Ville;Téléphone\n"
        "ACME SARL;12345678900011;42;1 234 567,50;69001;Lyon;04 72 00 00 00\n"
    )
    path = write("org.csv", content)
    summary = load(path, kind="organisations")
    assert summary.counts["new"] == 1
    assert rows("SELECT name, registration_number, employee_count FROM organisations") == [
        ("ACME SARL", "12345678900011", 42)
    ]
    assert rows("SELECT e164 FROM phones WHERE organisation_id IS NOT NULL") == [("+33472000000",)]
    assert rows("SELECT locality, status FROM addresses")[0][1] in ("valid", "corrected")
    assert load(path, kind="organisations").counts["unchanged"] == 1


def test_products_orders_lines_idempotent_and_rolled_back(
    write: Write, load: Load, rows: Rows, engine: Engine, people: Summary
) -> None:
    products = write(
        "products.csv",
        "Référence;Désignation;Catégorie;Prix unitaire\n"
        "BK-001;Le Petit Prince;Livres;12,50\nLP-7;Lampe;Maison;1 210,00\n",
    )
    orders = write(
        "orders.csv",
        "Numéro de commande,Code client,Date de commande,Montant total,Devise\n"
        "O-1,C1,05/03/2024 10:30,1235.00,EUR\n",
    )
    lines = write("lines.csv", "order_id,sku,qty,unit_price\nO-1,BK-001,2,12.50\nO-1,LP-7,1,\n")
    p = load(products, kind="products")
    o = load(orders, kind="orders")
    line_batch = load(lines, kind="order_lines")
    assert (p.counts["new"], o.counts["new"], line_batch.counts["new"]) == (2, 1, 2)
    assert rows("SELECT name FROM product_categories ORDER BY name") == [("Livres",), ("Maison",)]
    assert [float(r[0]) for r in rows("SELECT amount FROM order_lines ORDER BY line_no")] == [
        25.0,
        1210.0,
    ]
    for path, kind in ((products, "products"), (orders, "orders"), (lines, "order_lines")):
        assert load(path, kind=kind).counts["unchanged"] >= 1
    changed = load(
        write("lines2.csv", "order_id,sku,qty,unit_price\nO-1,BK-001,3,12.50\nO-1,LP-7,1,\n"),
        kind="order_lines",
    )
    assert changed.counts["updated"] == 1
    rollback_batch(engine, changed.batch_id)
    assert float(rows("SELECT quantity FROM order_lines WHERE line_no = 1")[0][0]) == 2
    # A person with orders from another batch has history: kept, as a delete would keep them
    done = rollback_batch(engine, people.batch_id)
    assert done["persons_kept"] == 1 and done["persons_removed"] == 1
    assert done["kept_because"] == {"orders from another import or the API": 1}
    assert rows("SELECT external_id FROM persons") == [("C1",)]
    rollback_batch(engine, line_batch.batch_id)
    rollback_batch(engine, o.batch_id)
    assert rows("SELECT COUNT(*) FROM orders") == [(0,)]


def test_relationships(
    write: Write, load: Load, rows: Rows, engine: Engine, people: Summary
) -> None:
    path = write(
        "rel.csv",
        "person_external_id,kind,related_person_external_id,household,role\n"
        "C1,famille,C2,,\nC1,household_member,,Famille Dupont,\nC2,employee_of,C77,,\n",
    )
    summary = load(path, kind="relationships")
    assert summary.counts["new"] == 2 and summary.counts["rejected"] == 1
    assert "unknown person 'C77'" in summary.rejects[0]["reason"]
    assert rows("SELECT name FROM households") == [("Famille Dupont",)]
    assert load(path, kind="relationships").counts["unchanged"] == 2
    rollback_batch(engine, summary.batch_id)
    assert rows("SELECT COUNT(*) FROM relationships") == [(0,)]
    assert rows("SELECT COUNT(*) FROM households") == [(0,)]


def test_consents_go_to_the_ledger_with_proof(
    write: Write, load: Load, rows: Rows, engine: Engine, people: Summary
) -> None:
    path = write(
        "consents.csv",
        "person_external_id,channel,purpose,state,occurred_at,proof_text\n"
        "C1,courriel,newsletter,oui,2024-03-05 10:00,J'accepte la newsletter\n"
        "C2,sms,marketing,granted,2024-03-05,\n"
        "C2,email,marketing,opt-out,05/03/2024,\n",
    )
    summary = load(path, kind="consents")
    assert summary.counts["new"] == 2 and summary.counts["rejected"] == 1
    assert "needs its proof" in summary.rejects[0]["reason"]
    assert rows("SELECT channel, purpose, state, method FROM consent_events ORDER BY id") == [
        ("email", "newsletter", "granted", "import"),
        ("email", "marketing", "withdrawn", "import"),
    ]
    assert rows("SELECT COUNT(*) FROM consent_current") == [(2,)]
    assert load(path, kind="consents").counts["unchanged"] == 2
    rollback_batch(engine, summary.batch_id)
    assert rows("SELECT COUNT(*) FROM consent_events") == [(0,)]
    assert rows("SELECT COUNT(*) FROM consent_current") == [(0,)]


def test_attribute_values_in_long_format(
    write: Write, load: Load, rows: Rows, engine: Engine, people: Summary
) -> None:
    load(
        write("a.csv", "external_id,family_name,Children,Hobbies\nC1,Dupont,2,Books\n"),
        as_attribute=["Children:number", "Hobbies:choice"],
    )
    path = write(
        "values.csv",
        "person_external_id,attribute,value\nC1,children,3\nC2,Hobbies,books\nC2,hobbies,Chess\n"
        "C1,unknown,1\n",
    )
    summary = load(path, kind="attributes")
    assert summary.counts["updated"] == 1 and summary.counts["new"] == 1
    reasons = " ".join(r["reason"] for r in summary.rejects)
    assert "unknown choice 'Chess'" in reasons and "unknown attribute 'unknown'" in reasons
    assert load(path, kind="attributes").counts["unchanged"] == 2
    rollback_batch(engine, summary.batch_id)
    assert rows(
        "SELECT CAST(value_number AS INTEGER) FROM attribute_values WHERE value_number IS NOT NULL"
    ) == [(2,)]
