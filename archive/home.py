"""The Limestone home (one folder holding the store, the vault, the state database and the keys)
and ``Archive``: a home opened with its settings, the entry point pipelines, pages and notebooks share.

``Home`` and ``HomeError`` are defined in ``archive.layout`` (the store and the vault need them) and
re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from archive.config import Settings
from archive.layout import Home, HomeError

if TYPE_CHECKING:  # imported when first used: opening a home should not load DuckDB
    import duckdb

    from archive.vault import Vault


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
        s = self.settings
        return Home(s.home_path, catalog_url=s.catalog, lake_url=s.lake, vault_url=s.vault, state_url=s.state)

    def store(self, read_only: bool = False) -> "duckdb.DuckDBPyConnection":
        """A new connection to the analytic store (writers migrate it first)."""
        from archive.store import open_store

        return open_store(self.home, read_only=read_only)

    @cached_property
    def vault(self) -> "Vault":
        from archive.vault import Vault

        return Vault(self.home, self.settings.master_key, self.settings.master_key_id)


__all__ = ["Archive", "Home", "HomeError"]
