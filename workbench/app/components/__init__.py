"""Thin wrappers around the custom Streamlit components the pages use (one place to adapt them)."""
