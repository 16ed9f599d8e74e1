"""The duplicates package's old name, ``closedloop.quality``, still works for one release."""

from __future__ import annotations

import importlib
import sys

import pytest


def test_old_package_name_gives_the_new_modules_with_a_warning() -> None:
    sys.modules.pop("closedloop.quality", None)
    with pytest.warns(DeprecationWarning, match="closedloop.dedupe"):
        quality = importlib.import_module("closedloop.quality")
    from closedloop.dedupe import runs

    assert quality.runs is runs
    with pytest.raises(AttributeError):
        _ = quality.no_such_module
