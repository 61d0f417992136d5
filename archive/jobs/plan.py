"""Splitting a big import or pull into jobs for the queue.

An import is split by files: each CD/USB medium (a folder holding a DICOMDIR), zip file or CD image
is one job (it is read through its directory or archive); every other file goes into batches of
``files_per_job`` files, in path order, so a folder's neighbours travel together. The paths must
be the same on every worker (a shared mount): jobs carry absolute paths, never file contents.

A pull is split by date windows of ``window_days`` days; each window's job asks the node which
studies it holds and queues one job per study (``archive.jobs.queue.PULL_STUDY_TASK``), so the
retrieval of a big window spreads over every worker too.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterator

CONTAINERS = (".zip", ".iso")


def _has_dicomdir(folder: Path) -> bool:
    try:
        return any(name.upper() == "DICOMDIR" for name in os.listdir(folder))
    except OSError:
        return False


def _walk(path: Path) -> Iterator[tuple[str, Path]]:
    """('unit', path) for a medium/container read whole, ('file', path) for a plain file."""
    if path.is_file():
        if path.suffix.lower() in CONTAINERS or path.name.upper() == "DICOMDIR":
            yield "unit", path
        else:
            yield "file", path
        return
    if _has_dicomdir(path):
        yield "unit", path
        return
    for root, dirs, files in os.walk(path):
        here = Path(root)
        media = [d for d in dirs if _has_dicomdir(here / d)]
        for name in sorted(media):
            yield "unit", here / name
        dirs[:] = sorted(d for d in dirs if d not in media)
        for name in sorted(files):
            child = here / name
            yield ("unit" if child.suffix.lower() in CONTAINERS else "file"), child


# A job's store commit on a PostgreSQL catalog with the lake in S3 costs ~0.25 s whatever its size
# (a Parquet file per table, the catalog's rows): 500 files a job spent ~0.5 ms a file on it, 2000
# a quarter of that (benchmarks/scale_out.py, 2 workers: 790 -> 1,216 instances/s).
FILES_PER_JOB = 2000


def import_batches(paths: list[Path], files_per_job: int = FILES_PER_JOB) -> list[dict[str, Any]]:
    """The jobs of an import of ``paths``: ``{"paths": [absolute path, ...]}`` each."""
    if files_per_job < 1:
        raise ValueError("files per job must be at least 1")
    jobs: list[dict[str, Any]] = []
    batch: list[str] = []
    for path in paths:
        for kind, found in _walk(Path(path).resolve()):
            if kind == "unit":
                jobs.append({"paths": [str(found)]})
                continue
            batch.append(str(found))
            if len(batch) == files_per_job:
                jobs.append({"paths": batch})
                batch = []
    if batch:
        jobs.append({"paths": batch})
    return jobs


def pull_windows(since: date, until: date, window_days: int = 7) -> list[tuple[date, date]]:
    """Consecutive windows (first day, last day, both included) covering ``since``..``until``."""
    if window_days < 1:
        raise ValueError("a window must be at least one day")
    if until < since:
        raise ValueError("the window ends before it starts")
    windows = []
    start = since
    while start <= until:
        end = min(start + timedelta(days=window_days - 1), until)
        windows.append((start, end))
        start = end + timedelta(days=1)
    return windows
