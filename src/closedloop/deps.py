"""Shared FastAPI dependencies live in api/ and web/; this module is kept for composition."""
