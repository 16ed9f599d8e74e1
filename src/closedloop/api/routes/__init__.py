"""One JSON router per domain."""
