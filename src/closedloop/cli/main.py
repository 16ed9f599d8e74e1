"""Entry point of the ``closedloop`` command (``closedloop --help`` lists every command)."""

from __future__ import annotations

import typer

from closedloop.cli import (
    db,
    dedupe,
    demo,
    ingest,
    jobs,
    persons,
    postal,
    score,
    seed,
    serve,
    signup_forms,
    users,
    webhooks,
)

app = typer.Typer(
    name="closedloop",
    help="closedloop: the marketing database and its closed campaign loop.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)


@app.callback()
def main() -> None:
    """closedloop: the marketing database and its closed campaign loop.

    Settings come from CLOSEDLOOP_* environment variables (CLOSEDLOOP_DATABASE_URL
    chooses the store; a SQLite file closedloop.db by default).
    """


db.register(app)


for module in (
    serve,
    demo,
    ingest,
    score,
    users,
    persons,
    seed,
    postal,
    dedupe,
    jobs,
    signup_forms,
    webhooks,
):
    module.register(app)
