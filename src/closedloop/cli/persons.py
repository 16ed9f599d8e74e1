"""``closedloop persons``: search the customer record and show a person's card."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table
from rich.text import Text
from sqlalchemy import inspect

from closedloop.cli._common import JsonOption, console, print_json, session_scope
from closedloop.contacts import service
from closedloop.contacts.models import Person
from closedloop.contacts.schemas import PersonFilter
from closedloop.db.base import as_utc
from closedloop.users.service import audit
from closedloop.vocab import LifecycleStatus

if TYPE_CHECKING:  # the card (every domain's models) loads with persons show, not persons list
    from closedloop.reports.card import PersonCard

persons_app = typer.Typer(
    name="persons",
    help="Search persons and show everything known about one of them.",
    no_args_is_help=True,
)


def _is_cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)


def full_name(given: str | None, family: str | None) -> str:
    """The name as it is written: family name first and no space for Chinese names (王伟)."""
    if given and family and _is_cjk(given + family):
        return family + given
    return " ".join(x for x in (given, family) if x)


def _say(text: str) -> None:
    """Print stored data as it is: brackets in names or statuses are not Rich markup."""
    console.print(text, markup=False, highlight=False)


def _primary(points: list[Any], attr: str) -> str:
    chosen = next((p for p in points if p.is_primary), points[0] if points else None)
    return str(getattr(chosen, attr)) if chosen is not None else ""


def _row(person: Person) -> dict[str, Any]:
    address = next((a for a in person.addresses if a.is_primary), None) or (
        person.addresses[0] if person.addresses else None
    )
    return {
        "id": person.id,
        "version": person.version,
        "given_name": person.given_name,
        "family_name": person.family_name,
        "lifecycle_status": person.lifecycle_status,
        "email": _primary(person.emails, "address") or None,
        "phone": _primary(person.phones, "e164") or None,
        "postal_code": address.postal_code if address else None,
        "locality": address.locality if address else None,
        "country": address.country if address else None,
    }


@persons_app.command("list")
def list_persons(
    q: str | None = typer.Option(
        None, "--q", "-q", help="Free search: name, email, phone number or postal code."
    ),
    name: str | None = typer.Option(None, "--name", help="Family and/or given name (prefix)."),
    email: str | None = typer.Option(None, "--email", help="Email address or its beginning."),
    phone: str | None = typer.Option(None, "--phone", help="Phone number in any common form."),
    postal_code: str | None = typer.Option(None, "--postal-code", help="Postal code (prefix)."),
    lifecycle_status: LifecycleStatus | None = typer.Option(
        None, "--lifecycle-status", help="Only persons in this lifecycle status."
    ),
    country: str | None = typer.Option(None, "--country", help="ISO country of an address."),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="How many to show."),
    offset: int = typer.Option(0, "--offset", min=0, help="How many matches to skip."),
    json_output: bool = JsonOption,
) -> None:
    """List persons matching every filter given, ordered by name (a page at a time)."""
    flt = PersonFilter(
        q=q,
        name=name,
        email=email,
        phone=phone,
        postal_code=postal_code,
        lifecycle_status=lifecycle_status,
        country=country,
    )
    # Only the contacts' and the audit trail's models: loading every domain's would double
    # the time this everyday command takes to answer.
    with session_scope(whole_schema=False) as session:
        persons, total = service.search_persons(session, flt, limit=limit, offset=offset)
        rows = [_row(p) for p in persons]
        audit(
            session,
            None,
            "search",
            "person",
            channel="cli",
            detail={
                "filter": flt.model_dump(mode="json", exclude_none=True),
                "ids": [r["id"] for r in rows],
            },
        )
    if json_output:
        print_json({"items": rows, "total": total, "limit": limit, "offset": offset})
        return
    table = Table(
        title=f"{total} person(s)"
        + (f", showing {offset + 1}–{offset + len(rows)}" if rows else "")
    )
    table.add_column("id", justify="right")
    table.add_column("name", no_wrap=True, min_width=12)
    for column in ("status", "email", "phone", "place"):
        table.add_column(column)
    for r in rows:
        place = " ".join(x for x in (r["postal_code"], r["locality"]) if x)
        cells = (
            str(r["id"]),
            full_name(r["given_name"], r["family_name"]) or f"#{r['id']}",
            r["lifecycle_status"],
            r["email"] or "",
            r["phone"] or "",
            f"{place} ({r['country']})" if r["country"] else place,
        )
        table.add_row(*(Text(c) for c in cells))
    console.print(table)


def plain(value: Any) -> Any:
    """The card as JSON-ready data: dataclasses and ORM rows become dicts of their columns."""
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, Decimal | date):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    mapper = getattr(inspect(value, raiseerr=False), "mapper", None)
    if mapper is not None:
        out = {attr.key: plain(getattr(value, attr.key)) for attr in mapper.column_attrs}
        for internal in ("password_hash", "given_key", "family_key", "address_key"):
            out.pop(internal, None)
        for rel in ("emails", "phones", "addresses", "lines"):
            if rel in mapper.relationships:
                out[rel] = plain(getattr(value, rel))
        return out
    return value


def card_data(card: PersonCard) -> dict[str, Any]:
    """The card as one JSON document; (row, campaign name) pairs become one object."""
    data: dict[str, Any] = plain(card)
    data["communications"] = [
        {**plain(c), "campaign_name": name} for c, name in card.communications
    ]
    data["responses"] = [{**plain(r), "campaign_name": name} for r, name in card.responses]
    data["scores"] = [{**plain(s), "as_of": plain(run.as_of)} for s, run in card.scores]
    return data


def _summary(card: PersonCard) -> None:
    p = card.person
    name = full_name(p.given_name, p.family_name) or f"#{p.id}"
    console.print(Text(name, style="bold"), f"#{p.id}  version {p.version}  {p.lifecycle_status}")
    facts = [
        ("Born", p.birth_date),
        ("Gender", p.gender),
        ("Language", p.language),
        ("Preferred channel", p.preferred_channel),
        ("Source", " / ".join(x for x in (p.source_system, p.external_id) if x)),
        ("Merged into", p.merged_into_id),
    ]
    for label, value in facts:
        if value:
            _say(f"  {label}: {value}")
    for e in p.emails:
        _say(f"  Email: {e.address}{' (primary)' if e.is_primary else ''}")
    for ph in p.phones:
        _say(f"  Phone: {ph.e164} {ph.line_type}{' (primary)' if ph.is_primary else ''}")
    for a in p.addresses:
        parts = (a.line1, a.line2, " ".join(x for x in (a.postal_code, a.locality) if x), a.country)
        _say(f"  Address: {', '.join(x for x in parts if x)} [{a.status}]")
    for r in card.relationships:
        _say(f"  {r.kind} {r.direction} {r.target_kind} {r.target_name}")
    if card.consents:
        _say("Consents: " + ", ".join(f"{c.channel}/{c.purpose} {c.state}" for c in card.consents))
    for s in card.suppressions:
        _say(f"  Suppressed ({s.channel or 'all channels'}): {s.reason}")
    summary = card.order_summary
    _say(
        f"Orders: {summary.count}, revenue {summary.revenue} {'/'.join(summary.currencies)}"
        + (f", last {summary.last_at:%Y-%m-%d}" if summary.last_at else "")
    )
    for o in card.orders[:5]:
        _say(f"  {o.ordered_at:%Y-%m-%d} #{o.id} {o.total_amount} {o.currency} {o.status}")
    if card.scores:
        score, run = card.scores[0]
        _say(
            f"Score ({run.as_of:%Y-%m-%d}): RFM {score.rfm_code or '-'} {score.rfm_segment or ''}"
            f" P(alive) {score.p_alive if score.p_alive is not None else '-'}"
            f" CLV {score.clv if score.clv is not None else '-'} tier {score.tier or '-'}"
        )
    _say(
        f"Messages: {len(card.communications)} recent, responses: {len(card.responses)} recent, "
        f"open tasks: {sum(1 for t in card.tasks if t.status == 'open')}"
    )


@persons_app.command("show")
def show(
    person_id: int = typer.Argument(..., help="The person's id."),
    recent: int = typer.Option(20, "--recent", min=1, help="How many recent orders etc. to list."),
    json_output: bool = JsonOption,
) -> None:
    """Show a person's card: identity, contact points, consents, orders, scores, history."""
    from closedloop.reports.card import build_card

    with session_scope() as session:
        card = build_card(session, person_id, recent=recent)
        data = card_data(card) if json_output else None
        audit(session, None, "view_card", "person", person_id, channel="cli")
    if data is not None:
        print_json(data)
    else:
        _summary(card)


def register(app: typer.Typer) -> None:
    """Attach ``closedloop persons …`` to the main app."""
    app.add_typer(persons_app)
