"""A ZIP archive written as a stream of chunks, for downloads that must not sit in memory.

The standard library's ``zipfile`` writes to a stream it cannot seek by putting each member's
CRC and sizes in a data descriptor after the data; ``zip_chunks`` hands it such a sink and yields
what it wrote in pieces of a few MiB. Members are stored, not deflated: DICOM pixel data
hardly compresses, and storing keeps the download as fast as reading the vault. Memory stays at
one piece whatever the archive's size; ZIP64 is used for members of 4 GiB and more.
"""

from __future__ import annotations

import io
import time
import zipfile
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator


@dataclass(frozen=True)
class Member:
    name: str                                  # path inside the archive, '/' separated
    size: int                                  # exact length in bytes
    chunks: Callable[[], Iterable[bytes]]      # called once, when the member is written


class _Sink(io.RawIOBase):
    """A write-only, unseekable file that keeps what was written until it is drained."""

    def __init__(self):
        self._parts: list[bytes] = []
        self._position = 0
        self._drained = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        data = bytes(data)
        self._parts.append(data)
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def seekable(self) -> bool:
        return False

    def seek(self, *args):  # zipfile probes this to learn the stream cannot seek
        raise io.UnsupportedOperation("seek")

    def flush(self) -> None:
        pass

    def drain(self, at_least: int = 0) -> Iterator[bytes]:
        """Hand over what was written, once there is at least ``at_least`` bytes of it."""
        if self._parts and self._position - self._drained >= at_least:
            data = b"".join(self._parts)
            self._parts.clear()
            self._drained = self._position
            yield data


def zip_chunks(members: Iterable[Member], when: time.struct_time | None = None,
               piece: int = 4 << 20) -> Iterator[bytes]:
    """The bytes of a ZIP of ``members``, produced in pieces of about ``piece`` bytes.

    Pieces of a few MiB keep memory flat and still spare a web server the cost of handing
    thousands of small pieces from the worker thread to the network.
    """
    stamp = tuple((when or time.localtime())[:6])
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for member in members:
            info = zipfile.ZipInfo(member.name, date_time=max(stamp, (1980, 1, 1, 0, 0, 0)))
            info.compress_type = zipfile.ZIP_STORED
            info.file_size = member.size
            info.external_attr = 0o644 << 16
            written = 0
            with archive.open(info, "w", force_zip64=member.size >= 0xFFFF_0000) as out:
                for chunk in member.chunks():
                    out.write(chunk)
                    written += len(chunk)
                    yield from sink.drain(piece)
            if written != member.size:
                raise ValueError(f"member {member.name} gave {written} bytes, expected {member.size}")
            yield from sink.drain(piece)
    yield from sink.drain()
