"""The import's fourth stage, writing: validated rows stored, one module per kind of record.

``kinds`` picks the writer of a kind; persons and organisations are in ``persons/``;
``records`` holds the shared upsert by (source, external id) that ``commerce`` (products,
orders), ``lines`` (order lines), ``links`` (relationships), ``consents`` and
``attribute_values`` build on; ``attributes`` creates catalogue attributes and choices;
``bulk`` runs driver-level statements; ``fresh`` writes brand-new rows as a database image;
``indexes`` defers SQLite's secondary indexes during a bulk load. It imports only the
stages below it (validate, map, read).
"""
