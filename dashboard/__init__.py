"""Limestone's staff dashboard: thin Streamlit pages over ``archive`` (never over ``pipelines``)."""
