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
from rich.console import Console, ConsoleDimensions
from sqlalchemy.orm import Session

from closedloop.bootstrap import get_engine, get_session_factory
from closedloop.db.uow import unit_of_work
from closedloop.errors import DomainError

#: The width of output sent to a pipe or a file: wide enough that no table is cut.
PIPE_WIDTH = 10_000


class CliConsole(Console):
    """A Rich console as wide as the terminal it writes to; when it writes to a pipe or a file
    (``closedloop persons list | grep …``, ``> list.txt``) tables keep every column whole
    instead of being cut to 80 characters. ``COLUMNS`` still sets a width when given, read
    when printing (not frozen when the module is imported)."""

    def __init__(self, *, width: int | None = None, **kwargs: Any) -> None:
        super().__init__(width=width, **kwargs)
        self._width = width

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        if self._width is None and not self.is_terminal and "COLUMNS" not in self._environ:
            return ConsoleDimensions(PIPE_WIDTH, size.height)
        return size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


console = CliConsole()
err_console = CliConsole(stderr=True)

JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table.")


@contextmanager
def session_scope(*, whole_schema: bool = True) -> Iterator[Session]:
    """A unit of work on the configured store; domain errors exit with a clear message.

    ``whole_schema=False``: only the models the command imported are loaded (see
    :func:`closedloop.bootstrap.get_engine`), for read commands that must answer fast.
    """
    try:
        engine = get_engine(whole_schema=whole_schema)
        with unit_of_work(get_session_factory(engine)) as session:
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
