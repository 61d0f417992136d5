"""Batch jobs and the ``limestone`` command line."""
