"""Interfaces to surrounding systems (M19): batch upserts with idempotency keys, outgoing
signed webhooks and their delivery log."""
