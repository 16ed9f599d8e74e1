"""Plugin hooks of the interfaces domain (event listeners, job handlers)."""
