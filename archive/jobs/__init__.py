"""Work spread over workers: big imports and pulls split into jobs that any number of
``limestone worker`` processes take (Procrastinate on the archive's PostgreSQL)."""

from archive.jobs.plan import import_batches, pull_windows
from archive.jobs.queue import (
    ATTEMPTS,
    IMPORT_TASK,
    PULL_STUDY_TASK,
    PULL_TASK,
    QUEUE,
    REFRESH_TASK,
    JobsError,
    JobsQueue,
    queue_url,
)

__all__ = ["ATTEMPTS", "IMPORT_TASK", "PULL_STUDY_TASK", "PULL_TASK", "QUEUE", "REFRESH_TASK", "JobsError", "JobsQueue",
           "import_batches", "pull_windows", "queue_url"]
