"""The ``closedloop`` command line: one Typer sub-app per domain."""
