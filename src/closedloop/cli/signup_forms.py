"""``closedloop signup-forms``: the public sign-up forms (double opt-in by email)."""

from __future__ import annotations

import typer
from rich.table import Table

from closedloop.cli._common import JsonOption, console, print_json, session_scope
from closedloop.consent import forms as service
from closedloop.consent.messages import public_url

signup_forms_app = typer.Typer(
    name="signup-forms",
    help="Public sign-up forms: list them, create one (its page is /signup/<slug>).",
    no_args_is_help=True,
)


@signup_forms_app.command("list")
def list_forms(json_output: bool = JsonOption) -> None:
    """List the sign-up forms with their public address."""
    with session_scope() as session:
        rows = [
            {**service.form_dict(f), "public_url": public_url(f"/signup/{f.slug}")}
            for f in service.list_forms(session)
        ]
    if json_output:
        print_json(rows)
        return
    table = Table("id", "slug", "title", "topics", "channels", "active", "public address")
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["slug"],
            row["title"],
            ", ".join(f"{t['label']} ({t['purpose']})" for t in row["topics"]),
            ", ".join(row["channels"]),
            "yes" if row["is_active"] else "no",
            row["public_url"],
        )
    console.print(table)


def _topic(text: str) -> dict[str, str]:
    purpose, _sep, label = text.partition(":")
    label = label.strip() or purpose.strip().capitalize()
    code = "-".join("".join(c if c.isalnum() else " " for c in label.lower()).split())
    return {"code": code[:64] or purpose.strip(), "label": label, "purpose": purpose.strip()}


@signup_forms_app.command("create")
def create(
    slug: str = typer.Argument(..., help="Name in the address: /signup/<slug>."),
    title: str = typer.Option(..., "--title", help="Title shown above the form."),
    topic: list[str] = typer.Option(
        ..., "--topic", help="PURPOSE[:LABEL], repeatable (e.g. newsletter:Book news)."
    ),
    channel: list[str] = typer.Option(["email"], "--channel", help="email, sms…; repeatable."),
    proof_text: str = typer.Option(..., "--proof-text", help="The consent text shown."),
    proof_version: str = typer.Option("v1", "--proof-version", help="Its version."),
    intro: str | None = typer.Option(None, "--intro", help="Text under the title."),
    subject: str = typer.Option(service.DEFAULT_SUBJECT, "--subject", help="Confirmation subject."),
    body: str | None = typer.Option(None, "--body", help="Confirmation text; must contain {link}."),
    redirect_url: str | None = typer.Option(
        None, "--redirect-url", help="Page shown after confirmation."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Create a sign-up form; prints its public address."""
    values = {
        "slug": slug,
        "title": title,
        "intro": intro,
        "topics": [_topic(t) for t in topic],
        "channels": channel,
        "proof_text": proof_text,
        "proof_version": proof_version,
        "confirm_subject": subject,
        "confirm_body": body or service.DEFAULT_BODY,
        "redirect_url": redirect_url,
    }
    with session_scope() as session:  # prints a refused form's errors, field by field
        data = service.validate_form(values, create=True)
        assert isinstance(data, service.SignupFormCreate)
        form = service.create_form(session, data, created_by="cli")
        row = {**service.form_dict(form), "public_url": public_url(f"/signup/{form.slug}")}
    if json_output:
        print_json(row)
    else:
        console.print(f"Created sign-up form {row['slug']} (#{row['id']}): {row['public_url']}")


def register(app: typer.Typer) -> None:
    """Attach ``closedloop signup-forms …`` to the main app."""
    app.add_typer(signup_forms_app)
