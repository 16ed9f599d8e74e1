"""The generated reference pages (docs/cli.md, docs/settings.md, docs/hooks.md) match the code,
and every command says what it does."""

from __future__ import annotations

from pathlib import Path

import pytest

from closedloop.cli import docgen
from closedloop.cli.main import COMMANDS

DOCS = Path(__file__).resolve().parents[2] / "docs"
HOW = f"regenerate it with `{docgen.REGENERATE}` and commit the result"


@pytest.mark.parametrize("page", sorted(docgen.PAGES))
def test_generated_page_is_current(page: str) -> None:
    """A new or changed command, setting or hook must show in its page."""
    current = (DOCS / page).read_text(encoding="utf-8") if (DOCS / page).exists() else ""
    assert current == docgen.PAGES[page](), f"docs/{page} is out of date: {HOW}"


def test_every_command_has_help() -> None:
    """`closedloop X --help` must say what X does, for every command and subcommand."""
    assert docgen.missing_help() == [], "commands without help (add a docstring)"


def test_cli_page_lists_every_command_and_option() -> None:
    """The page names each top-level command and each option a user can type."""
    text = docgen.cli_markdown()
    for entry in COMMANDS:
        assert f"## `closedloop {entry.name}`" in text, entry.name
    for path, command in docgen.all_commands():
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt != "--help":
                    assert f"`{opt}`" in text, f"{' '.join(path)} {opt}"


def test_settings_page_names_every_environment_variable() -> None:
    """Each *Settings class is found, and each of its fields is shown as its variable."""
    classes = docgen.settings_classes()
    names = {cls.__name__ for cls in classes}
    assert {"Settings", "DedupeSettings", "ChannelSettings"} <= names
    text = docgen.settings_markdown()
    assert "`CLOSEDLOOP_DATABASE_URL`" in text
    assert "`CLOSEDLOOP_DEDUPE_" in text
    for cls in classes:
        prefix = cls.model_config.get("env_prefix", "")
        for field in cls.model_fields:
            assert f"`{prefix}{field.upper()}`" in text


def test_hooks_page_documents_every_hook() -> None:
    """Every hook of the plugin manager has its section with its docstring."""
    from closedloop.hookspecs import pm

    text = docgen.hooks_markdown()
    for name in vars(pm.hook):
        if not name.startswith("_"):
            assert f"### `{name}(" in text, name
