"""pytest fixtures for the segmentation area (registered in conftest.py)."""
