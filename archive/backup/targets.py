"""Opening a backup target by its location: a folder, or ``s3://bucket/prefix``."""

from __future__ import annotations

from pathlib import Path

from archive.backup.target import BackupError, BackupTarget, FolderTarget
from archive.home import Home


def open_target(location: str, home: Home | None = None, *, for_writing: bool = False) -> BackupTarget:
    """The backup target at ``location`` (a folder, or ``s3://bucket/prefix``: see
    ``archive.backup.object_target``); refuses the home itself or a folder inside it, and a
    prefix that holds the home's own vault or lake."""
    if location.startswith("s3://"):
        from archive.backup.object_target import ObjectTarget  # boto3 only when needed

        if home is not None:
            mine = location.rstrip("/") + "/"
            for own in (home.vault_url, home.lake_url):
                if own and (own.rstrip("/") + "/").startswith(mine):
                    raise BackupError(f"the backup target {location} holds the archive's own data "
                                      f"({own}): choose another bucket or prefix")
        object_target = ObjectTarget(location)
        if not for_writing:
            object_target.check()
        return object_target
    root = Path(location).expanduser().resolve()
    if home is not None:
        home_root = home.root.resolve()
        if root == home_root or home_root in root.parents:
            raise BackupError(f"the backup target {root} is the archive home or inside it: "
                              "choose a folder on another disk")
    target = FolderTarget(root)
    if not for_writing:
        target.check()
    return target
