"""Regenerate docs/cli.md, docs/settings.md and docs/hooks.md from the code.

Run ``.venv/bin/python scripts/gen_docs.py`` after adding or changing a command, a setting or
a hook; tests/unit/test_docs.py fails until the pages match.
"""

from __future__ import annotations

from pathlib import Path

from closedloop.cli.docgen import generate

if __name__ == "__main__":
    changed = generate(Path(__file__).resolve().parents[1] / "docs")
    print("\n".join(f"wrote {p}" for p in changed) or "docs up to date")
