"""Where each part of a Limestone home lives on disk: ``Home`` (store, vault, state, keys, quarantine).

Apart from ``archive.home`` (which adds ``Archive``, the home opened with its settings) because the
store and the vault need the folders, and ``Archive`` needs the store and the vault.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


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
