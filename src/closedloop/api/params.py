"""Path and query parameters shared by every API route: ids and paging, bounded once.

Every integer a client sends is bounded by what the store can hold
(:data:`closedloop.db.types.MAX_INT`), so a huge number is a 422 naming the parameter, never
a driver overflow (500). ``tests/security/test_bounds.py`` fails on a route whose integer
parameter or body field has no such bound.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from closedloop.db.types import MAX_INT, DbCount, DbId

#: A record's id in the path.
Id = Annotated[DbId, Path(description="The record's id.")]
#: How many matching items to skip (paging).
Offset = Annotated[DbCount, Query(description="How many matching items to skip.")]
#: An optional id filter in the query (e.g. ``endpoint_id``).
IdFilter = Annotated[DbId | None, Query(description="Only the items of this id.")]

__all__ = ["MAX_INT", "Id", "IdFilter", "Offset"]
