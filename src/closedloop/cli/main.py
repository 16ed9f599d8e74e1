"""Entry point of the ``closedloop`` command (``closedloop --help`` lists every command).

A command's module is imported only when that command runs: ``closedloop --help`` imports none
of them, ``closedloop persons list`` only the persons module and what it needs (the whole tree
would load pandas, scipy and Ibis: seconds before anything happens). :data:`COMMANDS` names
each top-level command, the module whose ``register(app)`` adds it, and the one line that
``closedloop --help`` shows for it (the command's own first line: a test checks they agree).
A new command is one more line there.
"""

# ruff: noqa: E501 - COMMANDS reads best as a table, one command a line

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal

import typer
from typer.core import TyperCommand, TyperGroup

MARKUP: Literal["rich"] = "rich"


@dataclass(frozen=True)
class Entry:
    """A top-level command: its name, its module under ``closedloop.cli``, its one-line help."""

    name: str
    module: str
    summary: str


COMMANDS: tuple[Entry, ...] = (
    Entry("init", "db", "Create the database, or upgrade it to the latest schema (safe to run again)."),
    Entry("serve", "serve", "Serve the web pages and the JSON API (/api/v1, documentation at /docs)."),
    Entry("demo", "demo", "Create the database, fill it with a demo base, add a demo admin and serve the web app."),
    Entry("import", "ingest", "Import a file of persons, organisations, relationships, consents, attribute values, products, orders or order lines."),
    Entry("export", "export", "Export a table (or the persons list) to CSV, Excel or Parquet, or a person's full data as JSON (right of access), e.g. closedloop export person 42 person-42.json."),
    Entry("score", "score", "Score every person from their orders and store the results as a new run."),
    Entry("score-runs", "score", "List scoring runs, newest first."),
    Entry("worker", "jobs", "Run background jobs until stopped (Ctrl-C / SIGTERM finish the current job first)."),
    Entry("imports", "imports", "Import batches: list them, show one with its rejects, roll one back."),
    Entry("rates", "score", "Currency rates used to convert orders into the base currency."),
    Entry("reports", "score", "Customer value and demand reports."),
    Entry("users", "users", "Staff users: create them, list them, set passwords and roles, issue API tokens, sign them out."),
    Entry("persons", "persons", "Search persons and show everything known about one of them."),
    Entry("seed", "seed", "Fill the database with generated data."),
    Entry("postal", "postal", "Offline postal reference: build it from installed packages, check addresses."),
    Entry("dedupe", "dedupe", "Find duplicate persons, merge them into golden records, undo merges, households."),
    Entry("jobs", "jobs", "Background jobs (imports, scoring, dedupe, deliveries): list, cancel, rerun, schedule."),
    Entry("signup-forms", "signup_forms", "Public sign-up forms: list them, create one (its page is /signup/<slug>)."),
    Entry("webhooks", "webhooks", "Outgoing webhooks: endpoints, the delivery log, redelivery."),
    Entry("evaluation", "evaluation", "Campaign evaluation: the report against the control group, segments from its groups."),
    Entry("surveys", "surveys", "Surveys: create one from a JSON file, list them, read a report, print a link."),
    Entry("responses", "responses", "Reactions to campaigns: bounces and replies by SMTP or from a mailbox, list them."),
    Entry("segments", "segments", "Segments: count a rule, save it, list, show, export members, snapshot, delete."),
    Entry("targeting", "targeting", "Targeting: rank persons by propensity to buy a category, freeze the best as a segment."),
    Entry("channels", "channels", "Send waves by email, SMS and letter; check, preview and proof messages first."),
    Entry("campaigns", "campaigns", "Plan, approve, launch and send campaigns; follow their progress."),
    Entry("events", "events", "Events: create one for a campaign, list, show, attendees, answer, check in, links."),
    Entry("pressure", "pressure", "Contact-pressure rules (at most N messages per period, a minimum gap) and channel capacities."),
)  # fmt: skip


#: subcommands whose own module is much lighter than their group's: run alone, they are loaded
#: without the rest of the group (``closedloop campaigns report`` needs the evaluation, not the
#: sender and the whole campaigns package); the group's --help still lists them all
SHORTCUTS: dict[tuple[str, str], str] = {("campaigns", "report"): "evaluation"}


def load(entry: Entry) -> Any:
    """The real command of ``entry``: its module imported and registered on an app of its own."""
    module = importlib.import_module(f"closedloop.cli.{entry.module}")
    holder = typer.Typer(add_completion=False, rich_markup_mode=MARKUP)
    module.register(holder)
    return typer.main.get_group(holder).commands[entry.name]


def load_shortcut(group: str, name: str) -> Any:
    """Group ``group`` holding only its subcommand ``name``, from the module
    :data:`SHORTCUTS` names (its ``add_<name>(group_app)`` attaches it)."""
    module = importlib.import_module(f"closedloop.cli.{SHORTCUTS[(group, name)]}")
    holder = typer.Typer(add_completion=False, rich_markup_mode=MARKUP)
    sub = typer.Typer(name=group, rich_markup_mode=MARKUP)
    getattr(module, f"add_{name}")(sub)
    holder.add_typer(sub)
    return typer.main.get_group(holder).commands[group]


class Unloaded(TyperCommand):
    """Stands for a command whose module is not imported yet: enough for ``--help`` to list it
    (and for typos to get a suggestion); the group loads the real one before running it."""

    def __init__(self, entry: Entry) -> None:
        super().__init__(entry.name, help=entry.summary, rich_markup_mode=MARKUP)
        self.entry = entry


class LazyGroup(TyperGroup):
    """The ``closedloop`` group: every command of :data:`COMMANDS`, loaded when it runs."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for entry in COMMANDS:
            self.commands.setdefault(entry.name, Unloaded(entry))

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        found = self.commands.get(args[0]) if args else None
        if isinstance(found, Unloaded) and tuple(args[:2]) in SHORTCUTS:
            return args[0], load_shortcut(args[0], args[1]), args[1:]
        if isinstance(found, Unloaded):
            self.commands[args[0]] = load(found.entry)
        return super().resolve_command(ctx, args)


app = typer.Typer(
    name="closedloop",
    cls=LazyGroup,
    help="closedloop: the marketing database and its closed campaign loop.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=MARKUP,
)


@app.callback()
def main() -> None:
    """closedloop: the marketing database and its closed campaign loop.

    Settings come from CLOSEDLOOP_* environment variables (CLOSEDLOOP_DATABASE_URL
    chooses the store; a SQLite file closedloop.db by default).
    """
