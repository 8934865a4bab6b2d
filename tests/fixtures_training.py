"""pytest fixtures for the training area (registered in conftest.py)."""
