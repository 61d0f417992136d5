"""Backup and restore of a whole home: consistent while the archive runs, incremental, checked.

A backup target (``target``: a folder now, object storage later) keeps content-addressed objects
shared by all backups and one manifest per backup (``manifest``). ``run`` takes a backup (SQLite's
online backup API for the catalog and state, new files only for the immutable vault and lake) and
prunes old ones; ``check`` authenticates a backup without restoring it; ``restore`` rebuilds a home
from one. The master keys are never in a backup: ``archive.escrow`` seals them for safe keeping.

Callers import from the modules (nothing is imported here): an incremental backup is a fraction
of a second, and importing the restore and check code it does not use was 5 ms of it.
"""
