"""``closedloop events``: create an event for a campaign, list and show events, read the
attendance list, record an answer, check a guest in, print an invitation's links."""

from __future__ import annotations

from datetime import datetime

import typer
from rich.table import Table

from closedloop.cli._common import JsonOption, console, err_console, print_json, session_scope

events_app = typer.Typer(
    name="events",
    help="Events: create one for a campaign, list, show, attendees, answer, check in, links.",
    no_args_is_help=True,
)
EventArg = typer.Argument(..., help="The event's id or code.")


@events_app.command("create")
def create(
    code: str = typer.Argument(..., help="A short unique code (used by segment rules)."),
    name: str = typer.Argument(..., help="Its name, as invitations show it."),
    starts: datetime = typer.Option(..., "--starts", help="Start, e.g. 2027-05-14T18:30."),
    ends: datetime = typer.Option(..., "--ends", help="End, e.g. 2027-05-14T21:00."),
    timezone: str = typer.Option("UTC", "--timezone", help="IANA zone of the times."),
    campaign: str | None = typer.Option(
        None, "--campaign", help="The campaign (id or code) whose emails invite to it."
    ),
    venue: str | None = typer.Option(None, "--venue", help="Where: the venue's name."),
    address: str | None = typer.Option(None, "--address", help="Where: the address."),
    online_url: str | None = typer.Option(None, "--online-url", help="Or an online address."),
    capacity: int | None = typer.Option(None, "--capacity", min=1, help="Seats (none: no limit)."),
    organiser: str | None = typer.Option(None, "--organiser", help="The organiser's name."),
    organiser_email: str | None = typer.Option(
        None, "--organiser-email", help="The organiser's address (the .ics ORGANIZER)."
    ),
    description: str | None = typer.Option(None, "--description", help="A few words."),
    as_json: bool = JsonOption,
) -> None:
    """Create an event; naive times are read in --timezone. A campaign invites to at
    most one event: its emails whose template uses rsvp_url(...) are the invitations."""
    from pydantic import ValidationError

    from closedloop.campaigns.reading import find_campaign
    from closedloop.events.service import EventCreate, create_event, event_doc

    with session_scope() as session:
        campaign_id = find_campaign(session, campaign).id if campaign else None
        try:
            data = EventCreate(
                code=code,
                name=name,
                starts_at=starts,
                ends_at=ends,
                timezone=timezone,
                campaign_id=campaign_id,
                venue=venue,
                address=address,
                online_url=online_url,
                capacity=capacity,
                organiser_name=organiser,
                organiser_email=organiser_email,
                description=description,
            )
        except ValidationError as exc:
            for e in exc.errors():
                where = ".".join(str(p) for p in e["loc"]) or "event"
                err_console.print(f"[red]error:[/red] {where}: {e['msg']}")
            raise typer.Exit(code=1) from exc
        doc = event_doc(create_event(session, data))
    if as_json:
        print_json(doc)
        return
    console.print(f"Event [bold]{doc['code']}[/bold] created (id {doc['id']}).")


@events_app.command("list")
def list_(as_json: bool = JsonOption) -> None:
    """List the events, the latest first, with their seats taken."""
    from closedloop.events.service import event_doc, list_events

    with session_scope() as session:
        rows = [event_doc(e) for e in list_events(session)]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "code", "name", "starts (UTC)", "seats", "campaign")
    for r in rows:
        seats = f"{r['seats_taken']}/{r['capacity']}" if r["capacity"] else str(r["seats_taken"])
        table.add_row(str(r["id"]), r["code"], r["name"], r["starts_at"][:16], seats,
                      str(r["campaign_id"] or "—"))  # fmt: skip
    console.print(table)


@events_app.command("show")
def show(event: str = EventArg, as_json: bool = JsonOption) -> None:
    """An event and its counts: invited, yes, no, maybe, waiting, attended, no-shows."""
    from closedloop.events.service import attendance, event_doc, get_event

    with session_scope() as session:
        found = get_event(session, event)
        doc = {**event_doc(found), "counts": attendance(session, found).counts}
    if as_json:
        print_json(doc)
        return
    console.print(
        f"[bold]{doc['name']}[/bold] ({doc['code']}) {doc['starts_at']} → {doc['ends_at']}"
    )
    where = ", ".join(str(doc[k]) for k in ("venue", "address", "online_url") if doc[k])
    console.print(f"  where: {where or '—'}   capacity: {doc['capacity'] or 'no limit'}")
    console.print("  " + "  ".join(f"{k}: {v}" for k, v in doc["counts"].items()))


@events_app.command("attendees")
def attendees(
    event: str = EventArg,
    search: str = typer.Option("", "--search", help="Part of a name or an email address."),
    state: str | None = typer.Option(
        None, "--state", help="Only: invited, yes, no, maybe, waitlist, attended or no_show."
    ),
    as_json: bool = JsonOption,
) -> None:
    """The attendance list: each guest with their answer and check-in."""
    from closedloop.events.service import attendance, get_event

    with session_scope() as session:
        seen = attendance(session, get_event(session, event), search=search)
        doc = seen.as_dict()
    if state:
        doc["rows"] = [r for r in doc["rows"] if r["state"] == state]
    if as_json:
        print_json(doc)
        return
    table = Table("person", "name", "email", "state", "checked in")
    for r in doc["rows"]:
        table.add_row(str(r["person_id"]), r["name"], r["email"] or "", r["state"],
                      (r["checked_in_at"] or "")[:16])  # fmt: skip
    console.print(table)


@events_app.command("answer")
def answer_(
    invitation: int = typer.Argument(..., min=1, help="The invitation's message id."),
    answer: str = typer.Argument(..., help="yes, no or maybe."),
    as_json: bool = JsonOption,
) -> None:
    """Record a guest's answer given by other means (a call, a letter), as the RSVP page does."""
    from closedloop.events.rsvp import answer as record

    with session_scope() as session:
        got = record(session, invitation, answer)
        doc = {"person_id": got.guest.person_id, "answer": got.answer, "changed": got.changed}
    if as_json:
        print_json(doc)
        return
    console.print(
        f"Person {doc['person_id']}: {doc['answer']}" + ("" if doc["changed"] else " (unchanged)")
    )


@events_app.command("checkin")
def checkin(
    event: str = EventArg,
    person: int | None = typer.Option(None, "--person", min=1, help="The guest's person id."),
    invitation: int | None = typer.Option(
        None, "--invitation", min=1, help="Or the invitation's message id (its QR code)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Check a guest in (twice is once)."""
    from closedloop.events.rsvp import check_in
    from closedloop.events.service import get_event

    with session_scope() as session:
        got = check_in(
            session, get_event(session, event), person_id=person, communication_id=invitation,
            by="cli",
        )  # fmt: skip
        doc = {"person_id": got.guest.person_id, "already": got.already}
    if as_json:
        print_json(doc)
        return
    console.print(
        f"Person {doc['person_id']} "
        + ("was already checked in." if doc["already"] else "checked in.")
    )


@events_app.command("links")
def links(
    invitation: int = typer.Argument(..., min=1, help="The invitation's message id."),
) -> None:
    """Print an invitation's signed RSVP link and its check-in link (what its QR code holds)."""
    from closedloop.campaigns.tracking import checkin_url, rsvp_url
    from closedloop.events.rsvp import invitation as find

    with session_scope() as session:
        find(session, invitation)
    console.print(rsvp_url(invitation), soft_wrap=True)
    console.print(checkin_url(invitation), soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``closedloop events`` to ``app``."""
    app.add_typer(events_app)
