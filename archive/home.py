"""The Limestone home (one folder holding the store, the vault, the state database and the keys)
and ``Archive``: a home opened with its settings, the entry point pipelines, pages and notebooks share."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.config import Settings

if TYPE_CHECKING:  # the store and vault import this module: they are imported when first used
    import duckdb

    from archive.vault import Vault


class HomeError(RuntimeError):
    """The home folder is missing, unreadable or unwritable."""


@dataclass(frozen=True)
class Home:
    root: Path

    @property
    def store_dir(self) -> Path:
        return self.root / "store"

    @property
    def catalog_path(self) -> Path:
        return self.store_dir / "catalog.sqlite"

    @property
    def lake_dir(self) -> Path:
        return self.store_dir / "lake"

    @property
    def extensions_dir(self) -> Path:
        return self.store_dir / "extensions"

    @property
    def vault_dir(self) -> Path:
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
            for folder in (self.root, self.store_dir, self.lake_dir, self.extensions_dir,
                           self.vault_dir, self.quarantine_dir):
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise HomeError(f"cannot use home {self.root}: {exc.strerror or exc}") from None
        if not os.access(self.root, os.R_OK | os.W_OK | os.X_OK):
            raise HomeError(f"cannot use home {self.root}: not readable and writable")
        return self

    def exists(self) -> bool:
        return self.catalog_path.exists()


@dataclass
class Archive:
    """One resolved home with its settings."""

    settings: Settings

    @classmethod
    def load(cls, **overrides: Any) -> "Archive":
        """The archive at LIMESTONE_HOME (or ``home=...``), with every other setting resolved."""
        return cls(Settings.load(**{k: v for k, v in overrides.items() if v is not None}))

    @cached_property
    def home(self) -> Home:
        return Home(self.settings.home_path)

    def store(self, read_only: bool = False) -> "duckdb.DuckDBPyConnection":
        """A new connection to the analytic store (writers migrate it first)."""
        from archive.store import open_store

        return open_store(self.home, read_only=read_only)

    @cached_property
    def vault(self) -> "Vault":
        from archive.vault import Vault

        return Vault(self.home, self.settings.master_key, self.settings.master_key_id)
