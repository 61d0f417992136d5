"""Taking files into the archive: finding them (folders, zips, CD images, DICOMDIR) and storing each one.

- ``sources``: the files of folders, .zip files, .iso images and DICOMDIR media;
- ``intake``: one received file: recognised, parsed, checked, its original bytes sealed in the vault
  (shared by import, demo, pull and listen).
"""

from archive.ingest.intake import Outcome, ingest_bytes
from archive.ingest.sources import Discovery, Item, discover

__all__ = ["Discovery", "Item", "Outcome", "discover", "ingest_bytes"]
