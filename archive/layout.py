"""Where each part of a Limestone home lives on disk: ``Home`` (store, vault, state, keys, quarantine).

Apart from ``archive.home`` (which adds ``Archive``, the home opened with its settings) because the
store and the vault need the folders, and ``Archive`` needs the store and the vault.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from archive.errors import LimestoneError


class HomeError(LimestoneError, RuntimeError):
    """The home folder is missing, unreadable or unwritable."""


def is_object_url(location: str) -> bool:
    """True for an object-storage location (``s3://bucket/prefix``), False for a folder."""
    return location.startswith("s3://")


@dataclass(frozen=True)
class Home:
    """The home folder, and where each part of the archive lives when it is not in that folder.

    With only ``root`` set, everything is in the folder (the embedded default, one machine). A
    region's archive puts the catalog and the state in PostgreSQL and the lake and the vault in
    object storage (settings ``catalog``, ``state``, ``lake``, ``vault``); the folder then keeps
    only local things (DuckDB's extensions, the quarantine, the keys unless given otherwise).
    """

    root: Path
    catalog_url: str = ""
    lake_url: str = ""
    vault_url: str = ""
    state_url: str = ""

    @property
    def lake_location(self) -> str:
        """Where the lake's Parquet files go (DuckLake's DATA_PATH), ending with a slash."""
        location = self.lake_url if is_object_url(self.lake_url) else str(self.lake_dir)
        return location.rstrip("/") + "/"

    def backends(self) -> dict[str, str]:
        """Which backend holds each part (for ``limestone stats``): no credentials, no paths."""
        return {
            "catalog": "postgresql" if self.catalog_url else "sqlite",
            "lake": "s3" if is_object_url(self.lake_url) else "folder",
            "vault": "s3" if is_object_url(self.vault_url) else "folder",
            "state": "postgresql" if self.state_url else "sqlite",
        }

    @property
    def store_dir(self) -> Path:
        return self.root / "store"

    @property
    def catalog_path(self) -> Path:
        return self.store_dir / "catalog.sqlite"

    @property
    def lake_dir(self) -> Path:
        if self.lake_url and not is_object_url(self.lake_url):
            return Path(self.lake_url)
        return self.store_dir / "lake"

    @property
    def extensions_dir(self) -> Path:
        return self.store_dir / "extensions"

    @property
    def vault_dir(self) -> Path:
        if self.vault_url and not is_object_url(self.vault_url):
            return Path(self.vault_url)
        return self.root / "vault"

    @property
    def keys_dir(self) -> Path:
        return self.root / "keys"

    @property
    def state_path(self) -> Path:
        return self.root / "state.sqlite"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    def ensure(self) -> "Home":
        """Create the home's folders if needed; raise HomeError when it cannot be used."""
        try:
            folders = [self.root, self.store_dir, self.extensions_dir, self.quarantine_dir]
            folders += [] if is_object_url(self.lake_url) else [self.lake_dir]
            folders += [] if is_object_url(self.vault_url) else [self.vault_dir]
            for folder in folders:
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise HomeError(f"cannot use home {self.root}: {exc.strerror or exc}") from None
        if not os.access(self.root, os.R_OK | os.W_OK | os.X_OK):
            raise HomeError(f"cannot use home {self.root}: not readable and writable")
        return self

    def exists(self) -> bool:
        """Whether the store was made (a PostgreSQL catalog is taken to exist: opening it tells)."""
        return bool(self.catalog_url) or self.catalog_path.exists()
