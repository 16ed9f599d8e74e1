"""``closedloop webhooks``: add and list webhook endpoints, read the delivery log, redeliver."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from closedloop.cli._common import JsonOption, console, print_json, session_scope
from closedloop.interfaces import webhooks
from closedloop.interfaces.models import WebhookDelivery, WebhookEndpoint
from closedloop.interfaces.outbox import EVENT_TYPES

webhooks_app = typer.Typer(
    name="webhooks",
    help="Outgoing webhooks: endpoints, the delivery log, redelivery.",
    no_args_is_help=True,
)


def endpoint_dict(e: WebhookEndpoint, *, secret: bool = False) -> dict[str, Any]:
    """An endpoint as JSON-able data (the secret only when just made)."""
    out: dict[str, Any] = {
        "id": e.id,
        "url": e.url,
        "event_types": list(e.event_types),
        "description": e.description,
        "is_active": e.is_active,
        "created_by": e.created_by,
        "created_at": e.created_at,
    }
    if secret:
        out["secret"] = e.secret
    return out


def delivery_dict(d: WebhookDelivery) -> dict[str, Any]:
    """A delivery as JSON-able data."""
    return {
        "id": d.id,
        "endpoint_id": d.endpoint_id,
        "event_id": d.event_id,
        "event_type": d.event_type,
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at,
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "delivered_at": d.delivered_at,
        "created_at": d.created_at,
    }


@webhooks_app.command("add")
def add(
    url: str = typer.Argument(..., help="The http(s) URL that receives the events."),
    event: list[str] = typer.Option(
        ..., "--event", "-e", help="An event type (repeatable): " + ", ".join(EVENT_TYPES) + "."
    ),
    description: str = typer.Option("", "--description", help="What the endpoint is for."),
    as_json: bool = JsonOption,
) -> None:
    """Add an endpoint and print its signing secret (shown this once: keep it)."""
    with session_scope() as session:
        endpoint = webhooks.create_endpoint(
            session, url, event, description=description, created_by="cli"
        )
        data = endpoint_dict(endpoint, secret=True)
    if as_json:
        print_json(data)
        return
    console.print(f"Endpoint [bold]{data['id']}[/bold] → {data['url']}")
    console.print(f"Events: {', '.join(data['event_types'])}")
    console.print(f"Secret (shown once): [bold]{data['secret']}[/bold]")


@webhooks_app.command("list")
def list_(as_json: bool = JsonOption) -> None:
    """List the endpoints."""
    with session_scope() as session:
        rows = [endpoint_dict(e) for e in webhooks.list_endpoints(session)]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "url", "events", "active", "description")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["url"],
            ", ".join(r["event_types"]),
            "yes" if r["is_active"] else "no",
            r["description"] or "",
        )
    console.print(table)


@webhooks_app.command("deliveries")
def deliveries(
    endpoint: int | None = typer.Option(None, "--endpoint", help="Only this endpoint."),
    status: str | None = typer.Option(None, "--status", help="pending, sending, delivered, failed"),
    event: str | None = typer.Option(None, "--event", help="Only this event type."),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000),
    as_json: bool = JsonOption,
) -> None:
    """The delivery log, newest first."""
    with session_scope() as session:
        page = webhooks.list_deliveries(
            session, endpoint_id=endpoint, status=status, event_type=event, limit=limit
        )
        rows = [delivery_dict(d) for d in page.items]
    if as_json:
        print_json({"total": page.total, "items": rows})
        return
    table = Table("id", "endpoint", "event", "status", "attempts", "last answer", "created")
    for r in rows:
        answer = str(r["last_status_code"] or r["last_error"] or "")
        table.add_row(
            str(r["id"]),
            str(r["endpoint_id"]),
            r["event_type"],
            r["status"],
            str(r["attempts"]),
            answer,
            str(r["created_at"])[:19],
        )
    console.print(table)
    console.print(f"{page.total} deliveries")


@webhooks_app.command("redeliver")
def redeliver(
    delivery_id: int = typer.Argument(..., help="The delivery to send again."),
    as_json: bool = JsonOption,
) -> None:
    """Send a delivery's event again (a new delivery, queued now for the worker)."""
    with session_scope() as session:
        data = delivery_dict(webhooks.redeliver(session, delivery_id))
    if as_json:
        print_json(data)
        return
    console.print(f"Queued again as delivery {data['id']} (run `closedloop worker`).")


def register(app: typer.Typer) -> None:
    """Add ``closedloop webhooks`` to ``app``."""
    app.add_typer(webhooks_app)
