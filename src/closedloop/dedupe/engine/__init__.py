"""Batch deduplication of persons (issue 4): Splink on DuckDB, trained on the base itself.

- :mod:`.prepare` turns person records into the standardised frame the model compares.
- :mod:`.model` holds the comparisons, the bounded blocking keys, the unsupervised training
  and the versioned JSON model file.
- :mod:`.batch` runs it all: :func:`closedloop.dedupe.engine.batch.run_batch`.
- :mod:`.evaluate` measures it: pairwise and B³ metrics, FEBRL and synthetic data.

See ``docs/concepts/identity-resolution.md``.
"""
