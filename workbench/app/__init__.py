"""The Streamlit workbench: the app entry (app.py), pages, components, analytics, mask editing, login."""
