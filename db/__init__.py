"""Database layer: typed models, engine, and the query functions every page and job calls.

Imports neither streamlit nor torch.
"""
