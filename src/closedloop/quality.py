"""Deprecated alias of :mod:`closedloop.dedupe` (the duplicates package's old name).

Kept one release for plugins that imported ``closedloop.quality``: ``from closedloop.quality
import X`` gives ``closedloop.dedupe.X``, with a :class:`DeprecationWarning`.
"""

import importlib
import sys
import warnings
from types import ModuleType

warnings.warn(
    "closedloop.quality is now closedloop.dedupe; the old name goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> ModuleType:
    """Resolve ``closedloop.quality.<name>`` to the submodule of :mod:`closedloop.dedupe`."""
    try:
        module = importlib.import_module(f"closedloop.dedupe.{name}")
    except ModuleNotFoundError as error:
        raise AttributeError(name) from error
    sys.modules[f"{__name__}.{name}"] = module
    return module
