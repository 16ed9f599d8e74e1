"""Triggered workflows, contact planning (tasks, appointments) and alerts."""
