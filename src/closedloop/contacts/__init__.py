"""Persons, organisations, households, relationships, contact points and the attribute catalogue."""
