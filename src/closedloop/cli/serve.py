"""``closedloop serve``: run the web pages and the JSON API with uvicorn."""

from __future__ import annotations

import typer


def run_server(host: str = "127.0.0.1", port: int = 8000, *, reload: bool = False) -> None:
    """Serve ``closedloop.asgi:create_app`` (built by uvicorn, so settings are read at start)."""
    import uvicorn

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
) -> None:
    """Serve the web pages and the JSON API (/api/v1, documentation at /docs)."""
    run_server(host, port, reload=reload)


def register(app: typer.Typer) -> None:
    """Attach ``serve`` to the main app."""
    app.command("serve")(serve)
