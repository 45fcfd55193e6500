"""Helpers shared by the unit and integration tests (importable as `support`: pyproject's
pytest `pythonpath` puts `tests/` on the path)."""
