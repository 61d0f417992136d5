"""Readers of the quality views for notebooks and pages: the same numbers everywhere.

Each takes a store connection (read-only is enough) and returns a pandas DataFrame; none of them
returns patient names or IDs. ``thumbnails`` renders small images of chosen instances from the vault.
"""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pandas as pd
from PIL import Image

from archive.dicom.pixels import PixelError, decode, read, render_frame
from archive.vault import Vault, VaultError

_FILTER = ("(CAST(? AS DATE) IS NULL OR study_date >= CAST(? AS DATE)) "
           "AND (CAST(? AS VARCHAR) IS NULL OR modality = upper(CAST(? AS VARCHAR)))")


def instance_metrics(con: duckdb.DuckDBPyConnection, since: date | None = None,
                     modality: str | None = None) -> pd.DataFrame:
    """One row per measured instance with site, modality, station, protocol and every metric."""
    return con.execute(f"SELECT * FROM qa_instance_metrics WHERE {_FILTER} ORDER BY study_date",
                       [since, since, modality, modality]).df()


def group_summary(con: duckdb.DuckDBPyConnection, modality: str | None = None) -> pd.DataFrame:
    """Per modality, station and protocol: instances, series, median metrics, flagged series."""
    return con.execute("SELECT * FROM qa_group_summary WHERE CAST(? AS VARCHAR) IS NULL "
                       "OR modality = upper(CAST(? AS VARCHAR)) ORDER BY modality, station, protocol",
                       [modality, modality]).df()


def outliers(con: duckdb.DuckDBPyConnection, since: date | None = None,
             modality: str | None = None) -> pd.DataFrame:
    """Flagged series and instances with the metric, its value, the peers' median and the reason."""
    return con.execute(f"WITH o AS (SELECT * FROM qa_outliers WHERE {_FILTER}) "
                       "SELECT o.*, i.content_hash FROM o JOIN instances i USING (sop_instance_uid) "
                       "ORDER BY o.level DESC, abs(coalesce(o.robust_z, 99)) DESC",
                       [since, since, modality, modality]).df()


def runs(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The qa runs, newest first."""
    return con.execute("SELECT * FROM qa_runs ORDER BY started_at DESC").df()


def thumbnails(vault: Vault, content_hashes: list[str], size: int = 128) -> list[np.ndarray]:
    """A ``size`` x ``size`` greyscale-or-RGB uint8 image per instance (black where unreadable)."""
    images = []
    for digest in content_hashes:
        canvas = np.zeros((size, size, 3), dtype=np.uint8)
        try:
            ds = read(vault.get(digest))
            frames = decode(ds)
            image = render_frame(ds, frames, len(frames) // 2)
            pil = Image.fromarray(image).convert("RGB")
            pil.thumbnail((size, size), Image.Resampling.BILINEAR)
            small = np.asarray(pil)
            top, left = (size - small.shape[0]) // 2, (size - small.shape[1]) // 2
            canvas[top:top + small.shape[0], left:left + small.shape[1]] = small
        except (PixelError, VaultError, ValueError):
            pass
        images.append(canvas)
    return images
