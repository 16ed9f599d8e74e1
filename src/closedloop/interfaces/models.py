"""ORM models of the interfaces domain."""
