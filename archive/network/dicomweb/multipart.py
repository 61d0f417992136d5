"""A streaming parser for ``multipart/related`` answers (WADO-RS): one part at a time, bytes as sent.

The stream is read in chunks; only the part being read (and at most one chunk beyond it) is held
in memory, so a study of any size passes through in the space of its largest instance. A part's
bytes are exactly those between its headers and the next delimiter: nothing is decoded. A part
with a ``Content-Length`` is cut at that length (and must be followed by the delimiter); others
end at the delimiter. A stream that ends before the closing delimiter, a boundary that never
appears, or part headers that do not end, raise ``MultipartError``.
"""

from __future__ import annotations

import re
from typing import Iterable, Iterator

from archive.errors import LimestoneError

MAX_HEADER_BYTES = 16 * 1024


class MultipartError(LimestoneError, ValueError):
    """The answer is not the multipart stream it claims to be."""


_BOUNDARY = re.compile(r'boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)


def boundary_of(content_type: str) -> bytes:
    """The boundary of a ``multipart/related`` content type, or MultipartError."""
    kind = content_type.split(";")[0].strip().lower()
    if kind != "multipart/related":
        shown = kind or "no content type"
        raise MultipartError(f"answered {shown} instead of multipart/related DICOM")
    match = _BOUNDARY.search(content_type)
    if not match:
        raise MultipartError("the multipart answer names no boundary")
    return (match.group(1) or match.group(2)).encode("latin-1")


def _headers(block: bytes) -> dict[str, str]:
    out = {}
    for line in block.split(b"\r\n"):
        if not line.strip():
            continue
        name, sep, value = line.partition(b":")
        if not sep:
            raise MultipartError("a part header line has no ':'")
        out[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return out


def iter_parts(chunks: Iterable[bytes], boundary: bytes) -> Iterator[tuple[dict[str, str], bytes]]:
    """(headers, body) of each part of the stream ``chunks`` delimited by ``boundary``."""
    source = iter(chunks)
    buf = bytearray()
    delim = b"--" + boundary
    next_delim = b"\r\n" + delim
    eof = False

    def more() -> bool:
        nonlocal eof
        if eof:
            return False
        for chunk in source:
            if chunk:
                buf.extend(chunk)
                return True
        eof = True
        return False

    # The first delimiter (anything before it is a preamble, ignored).
    scan = 0
    while True:
        at = buf.find(delim, scan)
        if at >= 0 and (at == 0 or buf[at - 2:at] == b"\r\n"):
            del buf[:at + len(delim)]
            break
        scan = max(0, len(buf) - len(delim))
        if len(buf) > MAX_HEADER_BYTES + len(delim):
            raise MultipartError("the multipart boundary does not appear in the answer (wrong boundary)")
        if not more():
            raise MultipartError("the answer ended before its first part (empty, or a wrong boundary)")
    count = 0
    while True:
        # After a delimiter: "--" closes the stream, CRLF starts a part.
        while len(buf) < 2:
            if not more():
                raise MultipartError(f"the multipart stream was cut short after {count} parts")
        if buf[:2] == b"--":
            return
        if buf[:2] != b"\r\n":
            raise MultipartError("a multipart delimiter is followed by neither CRLF nor '--'")
        del buf[:2]
        scan = 0
        while True:
            end = buf.find(b"\r\n\r\n", scan)
            if end >= 0:
                break
            if buf.startswith(b"\r\n"):   # a part without headers
                end = -2
                break
            if len(buf) > MAX_HEADER_BYTES:
                raise MultipartError("a part's headers do not end")
            scan = max(0, len(buf) - 3)
            if not more():
                raise MultipartError(f"the multipart stream was cut short after {count} parts")
        headers = _headers(bytes(buf[:max(end, 0)]))
        del buf[:end + 4]
        length = headers.get("content-length")
        if length is not None and length.isdigit():
            size = int(length)
            while len(buf) < size + len(next_delim):
                if not more():
                    raise MultipartError(f"the multipart stream was cut short after {count} parts")
            if buf[size:size + len(next_delim)] != next_delim:
                raise MultipartError("a part is longer than its Content-Length says")
            body = bytes(buf[:size])
        else:
            scan = 0
            while True:
                size = buf.find(next_delim, scan)
                if size >= 0:
                    break
                scan = max(0, len(buf) - len(next_delim))
                if not more():
                    raise MultipartError(f"the multipart stream was cut short after {count} parts")
            body = bytes(buf[:size])
        del buf[:size + len(next_delim)]
        count += 1
        yield headers, body
