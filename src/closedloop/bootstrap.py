"""Composition: the full schema, engine and session factory built from settings."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine, MetaData
from sqlalchemy.orm import Session, sessionmaker

from closedloop.db.base import Base
from closedloop.db.engine import make_engine
from closedloop.db.uow import session_factory
from closedloop.hookspecs import pm
from closedloop.settings import get_settings


def metadata() -> MetaData:
    """The whole schema: importing every domain's models registers their tables."""
    from closedloop.automation import models as _automation
    from closedloop.campaigns import coordination_models as _coordination
    from closedloop.campaigns import models as _campaigns
    from closedloop.channels import models as _channels
    from closedloop.consent import models as _consent
    from closedloop.contacts import models as _contacts
    from closedloop.dedupe import models as _dedupe
    from closedloop.events import models as _events
    from closedloop.ingest import models as _ingest
    from closedloop.interfaces import models as _interfaces
    from closedloop.jobs import models as _jobs
    from closedloop.responses import models as _responses
    from closedloop.scoring import models as _scoring
    from closedloop.segments import models as _segments
    from closedloop.transactions import models as _transactions
    from closedloop.users import models as _users

    del _automation, _campaigns, _channels, _consent, _contacts, _ingest, _interfaces, _jobs
    del _dedupe, _coordination, _events
    del _responses, _scoring, _segments, _transactions, _users
    return Base.metadata


@lru_cache(maxsize=1)
def load_plugins() -> None:
    """Register the built-in domain plugins, then any installed third-party plugins."""
    from closedloop.automation import hooks as automation_hooks
    from closedloop.campaigns import hooks as campaigns_hooks
    from closedloop.channels import hooks as channels_hooks
    from closedloop.consent import hooks as consent_hooks
    from closedloop.dedupe import hooks as dedupe_hooks
    from closedloop.events import hooks as events_hooks
    from closedloop.ingest import hooks as ingest_hooks
    from closedloop.interfaces import hooks as interfaces_hooks
    from closedloop.reports import hooks as reports_hooks
    from closedloop.responses import hooks as responses_hooks
    from closedloop.scoring import hooks as scoring_hooks
    from closedloop.segments import hooks as segments_hooks
    from closedloop.targeting import hooks as targeting_hooks
    from closedloop.transactions import hooks as transactions_hooks

    plugins = (
        transactions_hooks,
        consent_hooks,
        campaigns_hooks,
        responses_hooks,
        events_hooks,
        automation_hooks,
        dedupe_hooks,
        scoring_hooks,
        segments_hooks,
        channels_hooks,
        interfaces_hooks,
        ingest_hooks,
        reports_hooks,
        targeting_hooks,
    )
    for plugin in plugins:
        if not pm.is_registered(plugin):
            pm.register(plugin)
    pm.load_setuptools_entrypoints("closedloop")


@lru_cache(maxsize=4)
def _engine(url: str) -> Engine:
    return make_engine(url)


def engine_for(url: str) -> Engine:
    """One engine per database URL for the whole process (schema and plugins loaded)."""
    metadata()
    load_plugins()
    return _engine(url)


def get_engine(*, whole_schema: bool = True) -> Engine:
    """The engine of the configured store (``CLOSEDLOOP_DATABASE_URL``).

    ``whole_schema=False`` skips importing every domain's models and plugins: for a quick
    read that only touches the tables its caller imported (``closedloop persons list``
    answers in half the time). The engine is the same one either way.
    """
    url = get_settings().database_url
    return engine_for(url) if whole_schema else _engine(url)


def get_session_factory(engine: Engine | None = None) -> sessionmaker[Session]:
    """A session factory on ``engine`` or the configured store."""
    return session_factory(engine or get_engine())
