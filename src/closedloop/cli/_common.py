"""Helpers shared by CLI commands: the store, JSON output, error exits."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from closedloop.bootstrap import get_engine, get_session_factory
from closedloop.db.uow import unit_of_work
from closedloop.errors import DomainError

console = Console()
err_console = Console(stderr=True)

JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table.")


@contextmanager
def session_scope() -> Iterator[Session]:
    """A unit of work on the configured store; domain errors exit with a clear message."""
    try:
        with unit_of_work(get_session_factory(get_engine())) as session:
            yield session
    except DomainError as exc:
        err_console.print(f"[red]error:[/red] {exc.detail}")
        for item in exc.errors:
            err_console.print(f"  - {item.get('field', '')}: {item.get('message', '')}")
        raise typer.Exit(code=1) from exc


def print_json(data: Any) -> None:
    """Write ``data`` as JSON to standard output (dates and decimals as strings)."""
    sys.stdout.write(json.dumps(data, default=str, ensure_ascii=False, indent=2) + "\n")


@contextmanager
def stop_at_a_safe_point(what: str) -> Iterator[threading.Event]:
    """A first Ctrl-C only sets the event, for the command to stop where it can stop cleanly
    (an interrupt in the middle of a process pool's bookkeeping can leave it hanging); a
    second one interrupts at once."""
    asked = threading.Event()

    def handler(_signum: int, _frame: Any) -> None:
        if asked.is_set():
            raise KeyboardInterrupt
        asked.set()
        err_console.print(f"[yellow]Stopping {what}…[/yellow] (Ctrl-C again to stop at once)")

    if threading.current_thread() is not threading.main_thread():
        yield asked  # only the main thread receives signals
        return
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield asked
    finally:
        signal.signal(signal.SIGINT, previous)
