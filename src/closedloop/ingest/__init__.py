"""Bringing data in: file readers, mapping profiles, validation, import batches (M6, M19).

The library entry points (the CLI, the API and the web page call them)::

    from closedloop.ingest.runner import run_import      # import a file → Summary
    from closedloop.ingest.context import Options        # source, dry run, mapping options…
    from closedloop.ingest.batches import rollback_batch  # undo a batch
    from closedloop.ingest.lineage import value_origins   # where a record's values came from

See ``docs/howto/import.md`` for formats, mapping, validation, rollback and resumption, and
``docs/decisions/0003-import-engine.md`` for how the engine is built.
"""
