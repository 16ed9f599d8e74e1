"""Users, roles and permissions, API tokens and the audit log (M20)."""
