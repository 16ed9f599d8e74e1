"""A realistic, reproducible demo base: persons, households, companies, consents, orders,
planted duplicates and one past campaign with a control group (``closedloop seed demo``)."""

from closedloop.demo.seed import seed_demo

__all__ = ["seed_demo"]
