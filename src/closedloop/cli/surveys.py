"""``closedloop surveys``: create a questionnaire from a JSON file, list surveys, read a
survey's report, print a person's signed link."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer
from rich.table import Table

from closedloop.cli._common import JsonOption, console, err_console, print_json, session_scope

surveys_app = typer.Typer(
    name="surveys",
    help="Surveys: create one from a JSON file, list them, read a report, print a link.",
    no_args_is_help=True,
)


@surveys_app.command("create")
def create(
    path: Path = typer.Argument(..., help="A JSON file: code, title, intro, questions."),
    as_json: bool = JsonOption,
) -> None:
    """Create a survey from a JSON file (the API's schema: each question has a code, a
    text, a kind — single, multiple, scale, nps, text — and its choices or bounds)."""
    from pydantic import ValidationError

    from closedloop.responses.surveys import SurveyCreate, create_survey

    try:
        data = SurveyCreate.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError) as exc:
        err_console.print(f"[red]error:[/red] {path}: {exc}")
        raise typer.Exit(code=1) from exc
    with session_scope() as session:
        survey = create_survey(session, data)
        out = {"id": survey.id, "code": survey.code, "questions": len(data.questions)}
    if as_json:
        print_json(out)
        return
    console.print(f"Survey [bold]{out['code']}[/bold] created (id {out['id']}).")


@surveys_app.command("list")
def list_(as_json: bool = JsonOption) -> None:
    """List the surveys."""
    from sqlalchemy import select

    from closedloop.responses.models import Survey

    with session_scope() as session:
        rows = [
            {"id": s.id, "code": s.code, "title": s.title, "active": s.active}
            for s in session.scalars(select(Survey).order_by(Survey.id))
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "code", "title", "active")
    for r in rows:
        table.add_row(str(r["id"]), str(r["code"]), str(r["title"]), "yes" if r["active"] else "no")
    console.print(table)


@surveys_app.command("report")
def report(
    survey: str = typer.Argument(..., help="The survey's id or code."),
    as_json: bool = JsonOption,
) -> None:
    """A survey's results: answers per question, mean, NPS, latest texts."""
    from closedloop.responses.survey_report import survey_report
    from closedloop.responses.surveys import get_survey

    with session_scope() as session:
        found = get_survey(session, int(survey) if survey.isdigit() else survey)
        data = asdict(survey_report(session, found))
    if as_json:
        print_json(data)
        return
    console.print(f"[bold]{data['title']}[/bold] — {data['respondents']} respondents")
    for q in data["questions"]:
        extra = f" mean {q['mean']}" if q["mean"] is not None else ""
        extra += f" NPS {q['nps']:+.0f}" if q["nps"] is not None else ""
        console.print(f"\n{q['text']} ({q['answered']} answered{extra})")
        for label, n in q["counts"]:
            console.print(f"  {label:>12} {'█' * min(n, 60)} {n}")
        for text in q["texts"]:
            console.print(f"  · {text}")


@surveys_app.command("link")
def link(
    survey: str = typer.Argument(..., help="The survey's code."),
    person: int = typer.Argument(..., min=1, help="The person's id."),
) -> None:
    """Print a person's signed link to the survey's page."""
    from closedloop.campaigns.tracking import survey_url
    from closedloop.responses.surveys import get_survey

    with session_scope() as session:
        found = get_survey(session, survey)
        console.print(survey_url(found.code, person_id=person), soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``closedloop surveys`` to ``app``."""
    app.add_typer(surveys_app)
