"""Plugin hooks of the scoring domain (job handlers)."""
