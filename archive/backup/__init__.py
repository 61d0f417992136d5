"""Backup and restore of a whole home: consistent while the archive runs, incremental, checked.

A backup target (``target``: a folder now, object storage later) keeps content-addressed objects
shared by all backups and one manifest per backup (``manifest``). ``run`` takes a backup (SQLite's
online backup API for the catalog and state, new files only for the immutable vault and lake) and
prunes old ones; ``check`` authenticates a backup without restoring it; ``restore`` rebuilds a home
from one. The master keys are never in a backup: ``archive.escrow`` seals them for safe keeping.
"""

from archive.backup.check import CheckResult, check
from archive.backup.history import protection
from archive.backup.restore import RestoreResult, restore
from archive.backup.run import BackupResult, back_up, listing, prune
from archive.backup.target import BackupError, BackupTarget, FolderTarget
from archive.backup.targets import open_target

__all__ = ["BackupError", "BackupResult", "BackupTarget", "CheckResult", "FolderTarget", "RestoreResult",
           "back_up", "check", "listing", "open_target", "protection", "prune", "restore"]
