"""The workbench: the `emojich` CLI and the Streamlit app."""
