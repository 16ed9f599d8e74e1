"""Entry point of the ``closedloop`` command (``closedloop --help`` lists every command)."""

from __future__ import annotations

import typer

from closedloop.cli import db

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


def _register_optional() -> None:
    """Sub-apps added as the product grows; each module exposes ``register(app)``."""
    import importlib

    for name in (
        "users",
        "persons",
        "seed",
        "serve",
        "demo",
        "postal",
        "dedupe",
        "ingest",
        "score",
    ):
        try:
            module = importlib.import_module(f"closedloop.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"closedloop.cli.{name}":
                raise
            continue
        module.register(app)


_register_optional()
