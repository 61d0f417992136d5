"""A copied DuckLake catalog, made to name the lake beside it (restore, backup checks, counts)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def point_catalog(catalog: Path, lake_dir: Path) -> None:
    """Make a copied catalog name ``lake_dir`` as its data path (DuckLake keeps it absolute and
    refuses to open a catalog elsewhere otherwise)."""
    con = sqlite3.connect(catalog)
    try:
        with con:
            con.execute("UPDATE ducklake_metadata SET value = ? WHERE key = 'data_path' AND scope IS NULL",
                        [f"{lake_dir}/"])
    finally:
        con.close()
