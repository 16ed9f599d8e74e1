"""Channels (email, SMS, letter, call list, event invitation): each implements one
``Channel`` protocol."""
