"""The ASGI application: ``uvicorn closedloop.asgi:app`` (``closedloop serve`` runs it)."""
