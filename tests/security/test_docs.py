"""docs/security.md says what the code does: its tables are the ones the code generates."""

from __future__ import annotations

import re
from pathlib import Path

from closedloop.access import destructive_table
from closedloop.users.permissions import permissions_table

DOC = Path(__file__).parents[2] / "docs" / "security.md"


def _block(name: str) -> str:
    found = re.search(f"<!-- {name}:start -->\n(.*?)\n<!-- {name}:end -->", DOC.read_text(), re.S)
    assert found, f"docs/security.md has no {name} block"
    return found.group(1)


def test_the_roles_table_is_the_code_s() -> None:
    assert _block("permissions") == permissions_table(), (
        "docs/security.md is out of date: paste closedloop.users.permissions.permissions_table()"
    )


def test_the_destructive_operations_are_the_code_s() -> None:
    assert _block("destructive") == destructive_table(), (
        "docs/security.md is out of date: paste closedloop.access.destructive_table()"
    )
