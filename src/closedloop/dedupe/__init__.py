"""Duplicates: finding the records that are one person, merging them and undoing a merge.

The name users see everywhere (``closedloop dedupe``, ``/api/v1/dedupe``, the Duplicates page,
the ``CLOSEDLOOP_DEDUPE_*`` settings). The probabilistic matching engine is
:mod:`closedloop.dedupe.engine`; runs, clusters and merges are the modules beside it. The
package was called ``closedloop.quality`` before; that name stays one release as a deprecated
alias (:mod:`closedloop.quality`). The postal reference is :mod:`closedloop.postal`.
"""
