"""The importer of each kind of record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from closedloop.ingest.bulk import Bulk
from closedloop.ingest.context import ChunkResult, Context
from closedloop.ingest.readers.base import Row


class Importer(Protocol):
    """Imports one chunk of rows of one kind."""

    def process(self, bulk: Bulk, rows: list[Row], out: ChunkResult) -> None: ...


def importer_for(ctx: Context) -> Importer:
    """The importer of ``ctx.kind``."""
    from closedloop.ingest.party import PartyImporter

    if ctx.kind.name in ("persons", "organisations"):
        return PartyImporter(ctx)
    from closedloop.ingest import attribute_values, commerce, lines, links

    makers: dict[str, Callable[[Context], Importer]] = {
        "products": commerce.Products,
        "orders": commerce.Orders,
        "order_lines": lines.OrderLines,
        "relationships": links.Relationships,
        "consents": links.Consents,
        "attributes": attribute_values.AttributeValues,
    }
    return makers[ctx.kind.name](ctx)
