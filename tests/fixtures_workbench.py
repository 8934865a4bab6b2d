"""pytest fixtures for the workbench area (registered in conftest.py)."""
