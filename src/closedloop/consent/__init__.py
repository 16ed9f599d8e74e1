"""Consent per channel and purpose (append-only ledger + current state) and suppression lists."""
