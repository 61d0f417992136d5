"""A chart with its data: every metrics chart offers the numbers behind it as CSV."""

from __future__ import annotations

import pandas as pd
import streamlit as st


def csv_bytes(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False).encode("utf-8")


def chart_with_csv(fig, df: pd.DataFrame, name: str, key: str) -> None:
    """Show a Plotly figure and a 'Download CSV' button with exactly the rows it plots."""
    st.plotly_chart(fig, width="stretch", key=f"{key}.chart")
    st.download_button("Download CSV", csv_bytes(df), file_name=f"{name}.csv", mime="text/csv",
                       key=f"{key}.csv", icon=":material/download:")
