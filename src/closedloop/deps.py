"""Request-scoped dependencies shared by the API and the web pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from closedloop.bootstrap import get_session_factory
from closedloop.db.uow import unit_of_work


def get_db() -> Iterator[Session]:
    """One unit of work per request: committed when the handler returns, rolled back on error."""
    with unit_of_work(get_session_factory()) as session:
        yield session


#: A request's session whose commit runs *before* the response is sent (``scope="function"``),
#: so a failing commit can never answer 200. Use it in every API route and web page.
DbSession = Annotated[Session, Depends(get_db, scope="function")]
