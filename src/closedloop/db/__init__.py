"""The operational store: declarative base, engine factory, unit of work, migrations."""
