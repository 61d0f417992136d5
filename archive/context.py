"""One resolved home with its settings: the entry point pipelines, pages and notebooks share."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import duckdb

from archive.config import Settings
from archive.home import Home
from archive.store import open_store
from archive.vault import Vault


@dataclass
class Archive:
    settings: Settings

    @classmethod
    def load(cls, **overrides) -> "Archive":
        """The archive at LIMESTONE_HOME (or ``home=...``), with every other setting resolved."""
        return cls(Settings.load(**{k: v for k, v in overrides.items() if v is not None}))

    @cached_property
    def home(self) -> Home:
        return Home(self.settings.home_path)

    def store(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        """A new connection to the analytic store (writers migrate it first)."""
        return open_store(self.home, read_only=read_only)

    @cached_property
    def vault(self) -> Vault:
        return Vault(self.home, self.settings.master_key, self.settings.master_key_id)
