"""The store writer every ingest uses: batches of files, and what features derive from them.

Import, pull and listen file received instances through a writer made here, so that whatever a
feature derives from the files is filed with each batch: today the reports among them (DICOM SR
and Encapsulated PDF get their text filed beside the images, ``archive.reports``).
"""

from __future__ import annotations

import duckdb

from archive.home import Home
from archive.reports.store import file_after_batch
from archive.store.writer import StoreWriter
from archive.vault import Vault


def store_writer(con: duckdb.DuckDBPyConnection, home: Home, run_id: str, *, site: str | None = None,
                 batch_size: int = 2000, vault: Vault | None = None, vault_durable: bool = False) -> StoreWriter:
    """A ``StoreWriter`` whose batches also file the reports among them (when ``vault`` is given)."""
    return StoreWriter(con, home, run_id, site=site, batch_size=batch_size, vault=vault,
                       after_flush=[file_after_batch], vault_durable=vault_durable)
