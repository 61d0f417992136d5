"""What goes on a CD, a USB stick or a download ZIP.

- ``dicomdir``: the DICOMDIR and the ISO 9660-safe file names of a medium;
- ``zipstream``: a ZIP written as a stream of chunks (downloads that never sit in memory);
- ``pdi``: IHE Portable Data for Imaging media (folder, ZIP or ISO image) with reports and a viewer page.
"""

from archive.media.dicomdir import MediaPlan, plan
from archive.media.zipstream import Member, zip_chunks, zip_size

__all__ = ["MediaPlan", "Member", "plan", "zip_chunks", "zip_size"]
