"""Duplicates: finding the records that are one person, merging them and undoing a merge.

The name users see everywhere (``closedloop dedupe``, ``/api/v1/dedupe``, the Duplicates page,
the ``CLOSEDLOOP_DEDUPE_*`` settings). The probabilistic matching engine is
:mod:`closedloop.dedupe.engine`; runs, clusters and merges are the modules beside it. The
package was called ``closedloop.quality`` before; that name stays one release as a deprecated
alias (:mod:`closedloop.quality`). The postal reference is :mod:`closedloop.postal`.

Front door (issue 15). Other packages use these modules: :mod:`.runs` (a whole-base run),
:mod:`.jobs` (queue one), :mod:`.candidates` (the review queue), :mod:`.merge` (merge, unmerge),
:mod:`.online` (the check at entry), :mod:`.indexing` (keys of new persons),
:mod:`.households`, :mod:`.models` and :mod:`.hooks` (plugin). The rest — the matching engine
(``engine``), its stored model (``model_store``, ``online_model``, ``level_sql``), the keys and
records it reads (``keys``, ``store``, ``snapshot``), survivorship, settings, the planted truth
and the progress texts (``said``) — is the package's inside: import-linter's "Front door:
dedupe" contract forbids importing it from outside.
"""
