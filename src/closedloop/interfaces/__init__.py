"""Interfaces to surrounding systems (M19): batch upserts with idempotency keys, outgoing
signed webhooks and their delivery log.

Front door (issue 15). Other packages use these modules: :mod:`.sync` (batch upserts),
:mod:`.items`, :mod:`.events`, :mod:`.errors`, :mod:`.idempotency`, :mod:`.webhooks`
(endpoints), :mod:`.outbox` (the delivery log), :mod:`.models`, :mod:`.settings`,
:mod:`.hooks` (plugin). The rest (``adapter``, ``delivery``, ``event_responses``,
``payloads``, ``targets``) is the package's inside: import-linter's "Front door: interfaces"
contract forbids importing it from outside.
"""
