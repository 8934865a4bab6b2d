"""The workbench's pages, run by workbench/app.py through st.navigation (not auto-discovered)."""
