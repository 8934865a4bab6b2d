"""pytest fixtures for the dataset area (registered in conftest.py)."""
