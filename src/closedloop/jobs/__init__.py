"""Durable jobs stored in the database and run by ``closedloop worker``."""
