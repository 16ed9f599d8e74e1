"""Plugin hooks (pluggy). Lower layers call them; higher layers implement them.

Built-in domains register as plugins in :func:`closedloop.bootstrap.load_plugins`, as
third-party packages do through the ``closedloop`` entry point group.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("closedloop")
hookimpl = pluggy.HookimplMarker("closedloop")


class Specs:
    """The hooks closedloop calls."""

    @hookspec
    def person_delete_blockers(self, session: Any, person_id: int) -> str | None:  # type: ignore[empty-body]
        """Return why ``person_id`` must not be deleted (e.g. "has 3 orders"), or None."""


pm = pluggy.PluginManager("closedloop")
pm.add_hookspecs(Specs)
