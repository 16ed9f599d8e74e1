"""``closedloop serve``: run the web pages and the JSON API with uvicorn."""

from __future__ import annotations

from typing import Any

import typer


def run_server(
    host: str = "127.0.0.1", port: int = 8000, *, reload: bool = False, worker: bool = True
) -> None:
    """Serve ``closedloop.asgi:create_app`` (built by uvicorn, so settings are read at start),
    with a background-job worker thread in the same process unless ``worker`` is False."""
    import uvicorn

    stop = None
    if worker and not reload:
        from closedloop.bootstrap import get_engine
        from closedloop.jobs.worker import start_thread

        _thread, stop = start_thread(get_engine())
    try:
        _run(uvicorn, host, port, reload)
    finally:
        if stop is not None:
            stop.set()


def _run(uvicorn: Any, host: str, port: int, reload: bool) -> None:
    uvicorn.run(
        "closedloop.asgi:create_app",
        factory=True,
        host=host,
        port=port,
        reload=reload,
        proxy_headers=True,
    )


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 for all)."),
    port: int = typer.Option(8000, help="TCP port."),
    reload: bool = typer.Option(False, "--reload", help="Restart when the code changes (dev)."),
    worker: bool = typer.Option(
        True,
        "--worker/--no-worker",
        help="Run background jobs in this process too (use --no-worker when separate "
        "closedloop worker processes run them).",
    ),
) -> None:
    """Serve the web pages and the JSON API (/api/v1, documentation at /docs)."""
    run_server(host, port, reload=reload, worker=worker)


def register(app: typer.Typer) -> None:
    """Attach ``serve`` to the main app."""
    app.command("serve")(serve)
