"""Tables as people read them: human column labels, blanks instead of ``None``, money with a currency.

``show(df, key)`` is ``st.dataframe`` for a frame straight from the archive: a column named like
``started_at`` is shown as "Started (UTC)", ``never_opened`` as "Never opened", and a missing value
as an empty cell (a dash for dates) rather than the word None. CSV downloads keep the raw names.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

# Labels that the generic rule (underscores to spaces, first letter capital) would get wrong.
LABELS = {
    "started_at": "Started (UTC)", "finished_at": "Finished (UTC)", "occurred_at": "When (UTC)",
    "created_at": "Created (UTC)", "updated_at": "Updated (UTC)", "used_on": "Used on",
    "study_date": "Study date", "prior_date": "Prior date", "patient_birth_date": "Born",
    "patient_id": "Patient ID", "patient_name": "Patient", "person_key": "Person key",
    "study_instance_uid": "Study UID", "ae_title": "AE title", "exam_class": "Exam class code",
    "class_name": "Exam class", "kind": "Kind", "ok": "OK",
    "repeat_rate_pct": "Repeat rate (%)", "avoidable_rate_pct": "Avoidable repeat rate (%)",
    "ct_dlp_mgy_cm": "CT DLP (mGy·cm)", "ct_ctdi_vol_mgy": "CTDIvol (mGy)",
    "xr_detector_kerma_ugy": "XR detector kerma (µGy)", "reason_kind": "Reason",
    "repeat_window_days": "Repeat window (days)", "window_days": "Window (days)",
}


def label(column: str) -> str:
    """The human label of a raw column name."""
    if column in LABELS:
        return LABELS[column]
    if column.startswith("cost"):
        return f"{column.replace('_', ' ').capitalize()} ({currency()})"
    if column != column.lower() or " " in column:   # already a label
        return column
    text = column.replace("_", " ")
    return text[:1].upper() + text[1:]


def currency() -> str:
    """The currency code costs are in (setting ``currency``, default CAD)."""
    from dashboard import data
    try:
        return str(getattr(data.archive(data.home_dir()).settings, "currency", "CAD") or "CAD")
    except Exception:
        return "CAD"


def money(amount: float) -> str:
    """``amount`` with the currency code, e.g. "CAD 1,250"."""
    return f"{currency()} {amount:,.0f}"


def humane(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with human labels and blanks for missing values in text and date columns."""
    out = df.rename(columns={c: label(str(c)) for c in df.columns})
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            fmt = "%Y-%m-%d" if (values.dropna().dt.normalize() == values.dropna()).all() else "%Y-%m-%d %H:%M"
            out[column] = values.dt.strftime(fmt).fillna("—")
        elif values.dtype == object:
            out[column] = values.map(lambda v: "" if v is None or (isinstance(v, float) and pd.isna(v)) else v)
    return out


def show(df: pd.DataFrame, key: str, column_config: dict | None = None, **kwargs):
    """``st.dataframe`` of ``humane(df)``; ``column_config`` may name raw or human columns."""
    config = {label(str(k)): v for k, v in (column_config or {}).items()}
    for column in df.columns:
        if str(column).startswith("cost") and label(str(column)) not in config:
            config[label(str(column))] = st.column_config.NumberColumn(format="%.0f")
    kwargs.setdefault("hide_index", True)
    kwargs.setdefault("width", "stretch")
    return st.dataframe(humane(df), key=key, column_config=config or None, **kwargs)
