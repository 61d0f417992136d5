"""Taking files into the archive: finding them (folders, zips, CD images, DICOMDIR) and storing each one.

- ``sources``: the files of folders, .zip files, .iso images and DICOMDIR media;
- ``intake``: one received file: recognised, parsed, checked, its original bytes sealed in the vault
  (shared by import, demo, pull and listen);
- ``run``: an import run over some paths (``import_paths``): worker processes, the store's single
  writer, the run's summary (``limestone import`` and ``limestone demo``).
"""

from archive.ingest.intake import Outcome, ingest_bytes
from archive.ingest.sources import Discovery, Item, discover

__all__ = ["Discovery", "Item", "Outcome", "discover", "ingest_bytes"]
