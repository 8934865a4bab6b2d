"""The workbench's pages, run by workbench/app/app.py through st.navigation (not auto-discovered)."""
