"""Reactions to communications (opens, clicks, purchases, survey answers) and evaluation."""
