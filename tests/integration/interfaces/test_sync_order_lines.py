"""An order synced with ``lines`` is the source's whole order: lines it no longer has are
removed, the others updated or kept; without ``lines`` its lines stay. A file import of
order lines still only adds and updates (an order's lines may be spread over files)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from closedloop.ingest.map.mapping import MappingRequest
from closedloop.ingest.models import ImportChange
from closedloop.ingest.service.runner import run_import
from closedloop.ingest.validate.context import Options
from closedloop.transactions.models import Order, OrderLine, Product

ORDERS = "/api/v1/sync/orders?source=erp"


def _setup(client: TestClient, headers: dict[str, str], session: Session) -> None:
    session.add_all(
        [
            Product(sku="A", name="A", unit_price=1),
            Product(sku="B", name="B", unit_price=2),
            Product(sku="C", name="C", unit_price=5),
        ]
    )
    session.commit()
    person = {"external_id": "P1", "family_name": "Buyer"}
    sent = client.post("/api/v1/sync/persons?source=erp", json=person, headers=headers)
    assert sent.status_code == 201, sent.text


def _order(*lines: dict[str, Any], **fields: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "external_id": "O1",
        "person_external_id": "P1",
        "ordered_at": "2025-03-01",
        "total_amount": 10,
        **fields,
    }
    if lines or "lines" not in fields:
        order["lines"] = list(lines)
    return order


def _sync(client: TestClient, headers: dict[str, str], order: dict[str, Any]) -> Any:
    response = client.post(ORDERS, json=order, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


def _lines(session: Session) -> list[tuple[int, str, int]]:
    session.expire_all()
    order = session.scalars(select(Order).where(Order.external_id == "O1")).one()
    stmt = select(OrderLine.line_no, Product.sku, OrderLine.quantity).join(Product)
    rows = session.execute(stmt.where(OrderLine.order_id == order.id).order_by(OrderLine.line_no))
    return [(n, sku, int(q)) for n, sku, q in rows]


def test_a_line_missing_from_a_later_sync_is_removed(
    client: TestClient, api_headers: dict[str, str], session: Session
) -> None:
    _setup(client, api_headers, session)
    first = _sync(client, api_headers, _order({"sku": "A", "quantity": 2}, {"sku": "B"}))
    assert first["items"][0]["status"] == "created"
    assert _lines(session) == [(1, "A", 2), (2, "B", 1)]
    again = _sync(client, api_headers, _order({"sku": "B"}))
    assert again["items"][0]["status"] == "updated"
    assert _lines(session) == [(2, "B", 1)]  # matched by product: the line keeps its number
    removed = session.scalars(
        select(ImportChange).where(ImportChange.batch_id == again["batch_id"])
    ).one()
    assert (removed.entity, removed.action) == ("removed_order_line", "deleted")
    before = removed.data["before"]
    assert (before["line_no"], Decimal(str(before["quantity"]))) == (1, 2)
    same = _sync(client, api_headers, _order({"sku": "B"}))
    assert same["items"][0]["status"] == "unchanged"


def test_rolling_back_a_sync_puts_its_removed_lines_back(
    client: TestClient, api_headers: dict[str, str], session: Session
) -> None:
    _setup(client, api_headers, session)
    _sync(client, api_headers, _order({"sku": "A", "quantity": 2}, {"sku": "B"}))
    session.expire_all()
    ids = sorted(session.scalars(select(OrderLine.id)))
    again = _sync(client, api_headers, _order({"sku": "B"}, total_amount=2))
    assert _lines(session) == [(2, "B", 1)]
    changed = session.scalars(
        select(ImportChange.data).where(
            ImportChange.batch_id == again["batch_id"], ImportChange.entity == "order"
        )
    ).one()
    assert set(changed["after"]) == {"total_amount"}  # the same date is no change
    url = f"/api/v1/imports/{again['batch_id']}/rollback"
    done = client.post(url, headers=api_headers)
    assert done.status_code == 200, done.text
    assert done.json()["restored"] == 2  # the order's total and the removed line
    assert done.json()["kept"] == 0  # nothing was changed since
    assert _lines(session) == [(1, "A", 2), (2, "B", 1)]
    session.expire_all()
    assert sorted(session.scalars(select(OrderLine.id))) == ids  # with its own id
    order = session.scalars(select(Order).where(Order.external_id == "O1")).one()
    assert order.total_amount == 10


def test_numbered_lines_are_updated_kept_added_and_removed(
    client: TestClient, api_headers: dict[str, str], session: Session
) -> None:
    _setup(client, api_headers, session)
    _sync(
        client,
        api_headers,
        _order(
            {"line_no": 1, "sku": "A"},
            {"line_no": 2, "sku": "B"},
            {"line_no": 3, "sku": "C", "quantity": 3},
        ),
    )
    body = _sync(
        client,
        api_headers,
        _order(
            {"line_no": 1, "sku": "A", "quantity": 5},
            {"line_no": 3, "sku": "C", "quantity": 3},
            {"line_no": 4, "sku": "B", "quantity": 2},
        ),
    )
    assert body["items"][0]["status"] == "updated"
    assert _lines(session) == [(1, "A", 5), (3, "C", 3), (4, "B", 2)]


def test_without_lines_the_lines_stay_and_an_empty_list_removes_them(
    client: TestClient, api_headers: dict[str, str], session: Session
) -> None:
    _setup(client, api_headers, session)
    _sync(client, api_headers, _order({"sku": "A"}, {"sku": "B"}))
    no_lines = _order(total_amount=12)
    del no_lines["lines"]
    assert _sync(client, api_headers, no_lines)["items"][0]["status"] == "updated"
    assert _sync(client, api_headers, {**no_lines, "lines": None})["items"][0]["status"] == (
        "unchanged"
    )
    assert _lines(session) == [(1, "A", 1), (2, "B", 1)]
    emptied = _sync(client, api_headers, _order(total_amount=12, lines=[]))
    assert emptied["items"][0]["status"] == "updated"
    assert _lines(session) == []


def test_a_rejected_resync_leaves_the_lines_alone(
    client: TestClient, api_headers: dict[str, str], session: Session
) -> None:
    _setup(client, api_headers, session)
    _sync(client, api_headers, _order({"sku": "A"}, {"sku": "B"}))
    response = client.post(ORDERS, json=_order({"sku": "NOPE"}), headers=api_headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "lines[0].sku"
    assert _lines(session) == [(1, "A", 1), (2, "B", 1)]


def test_a_file_of_order_lines_still_only_adds_and_updates(
    client: TestClient,
    api_headers: dict[str, str],
    session: Session,
    engine: Engine,
    tmp_path: Path,
) -> None:
    _setup(client, api_headers, session)
    _sync(client, api_headers, _order({"sku": "A"}, {"sku": "B"}))
    path = tmp_path / "lines.csv"
    path.write_text("order_external_id,line_no,sku,quantity\nO1,1,A,7\nO1,3,C,1\n")
    options = Options(source="erp", filename=path.name, mapping=MappingRequest(), workers=0)
    summary = run_import(engine, path, "order_lines", options)
    assert (summary.counts.get("updated"), summary.counts.get("new")) == (1, 1)
    assert "removed" not in summary.counts
    assert _lines(session) == [(1, "A", 7), (2, "B", 1), (3, "C", 1)]
