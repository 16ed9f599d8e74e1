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


class IdentitySpecs:
    """Hooks of identity resolution (issue 4): the contacts service announces saved persons,
    the quality domain merges persons and each domain moves its own rows."""

    @hookspec
    def person_saved(self, session: Any, person_id: int, created: bool) -> None:
        """A person was created or updated (and flushed): keep match keys, check duplicates."""

    @hookspec
    def person_merge_blockers(  # type: ignore[empty-body]
        self, session: Any, golden_id: int, source_id: int
    ) -> str | None:
        """Return why ``source_id`` must not be merged into ``golden_id`` now, or None."""

    @hookspec
    def person_merged(  # type: ignore[empty-body]
        self, session: Any, golden_id: int, source_id: int, event: Any
    ) -> dict[str, Any] | None:
        """Move the domain's rows of ``source_id`` to ``golden_id``; return a JSON-able record
        ``{"<domain>": {...}}`` of what was moved or removed, so the unmerge can undo it.
        ``event`` is the merge event being written (its ``id`` is set)."""

    @hookspec
    def person_unmerged(self, session: Any, golden_id: int, source_id: int, event: Any) -> None:
        """Undo exactly what ``person_merged`` recorded in ``event.moved["<domain>"]``."""


pm.add_hookspecs(IdentitySpecs)


class JobSpecs:
    """Hooks of the job runner (``closedloop worker``): each domain names its handlers."""

    @hookspec
    def job_handlers(self) -> dict[str, Any]:  # type: ignore[empty-body]
        """Return ``{kind: handler}``; a handler takes a
        :class:`closedloop.jobs.service.JobContext` and returns a JSON-able result or None."""


pm.add_hookspecs(JobSpecs)


class EventSpecs:
    """Business events other domains (webhooks, identity resolution, automation) react to.
    Each is called inside the writer's transaction, after a flush."""

    @hookspec
    def persons_imported(self, session: Any, person_ids: list[int], batch_id: int | None) -> None:
        """Bulk writers (imports, the demo seed) created or updated ``person_ids`` without
        calling ``person_saved`` per person; listeners should queue their work as a job."""

    @hookspec
    def consent_changed(self, session: Any, person_id: int, event: Any) -> None:
        """A consent ledger ``event`` (:class:`closedloop.consent.models.ConsentEvent`) was
        recorded for ``person_id``."""

    @hookspec
    def response_recorded(self, session: Any, person_id: int | None, response: Any) -> None:
        """A response (open, click, reply, purchase, survey answer…) was recorded.
        ``response`` is read-only: the stored row (attributes named as the columns of
        ``closedloop.responses.models.Response``) or an object with the same attributes."""


pm.add_hookspecs(EventSpecs)


class ChannelSpecs:
    """Hooks of the channels (issue 17): each way of reaching people is a plugin."""

    @hookspec
    def channel_types(self) -> dict[str, Any]:  # type: ignore[empty-body]
        """Return ``{name: factory}``; ``factory()`` builds the channel from the settings
        (an object with the :class:`closedloop.channels.base.Channel` protocol)."""

    @hookspec
    def message_recommendations(  # type: ignore[empty-body]
        self, session: Any, person_ids: list[int], campaign_id: int | None, limit: int
    ) -> dict[int, list[dict[str, Any]]] | None:
        """Products to recommend in a message, per person (most relevant first): each a
        JSON-able dict (``code``, ``name``, ``price``, ``url``…). None from a plugin that
        does not recommend; the first answer wins."""

    @hookspec
    def message_invitation(self, session: Any, campaign_id: int) -> Any | None:
        """The event campaign ``campaign_id`` invites to, for its emails: an object with
        ``fields`` (the template's ``event``) and ``attachment(communication_id, person_id,
        recipient, name)`` (the ``.ics`` of one invitation, a
        :class:`closedloop.channels.Attachment`); None when it invites to none. The first
        answer wins."""


pm.add_hookspecs(ChannelSpecs)
