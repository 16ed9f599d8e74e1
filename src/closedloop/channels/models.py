"""ORM models of the channels domain."""
