"""Plugin hooks of the channels domain (job handlers)."""
