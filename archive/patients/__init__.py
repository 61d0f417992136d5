"""Regional patient identity: which patient records of the region's sites are one person.

- ``linking``: linking records by shared identifiers or demographics, and staff decisions on doubtful pairs.
"""

from archive.patients.linking import LinkResult, decide, link_patients

__all__ = ["LinkResult", "decide", "link_patients"]
