"""A ZIP archive written as a stream of chunks, for downloads that must not sit in memory.

Members are stored, not deflated: DICOM pixel data hardly compresses, and storing keeps the
download as fast as reading the vault. Each member's CRC-32 is computed while its bytes go by
and written after them in a data descriptor (APPNOTE 4.3.9), so nothing is read twice and
nothing is held back. Because every member's size is known beforehand, so is the archive's
(``zip_size``): a web server can send a Content-Length, and the browser shows a true progress
bar. The members' own chunks are passed through as they are, never copied into larger pieces;
only small pieces (headers, small members) are gathered. ZIP64 records are written for members
of 4 GiB and more, archives past 4 GiB and more than 65,535 members.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from isal.isal_zlib import crc32  # the same CRC-32 as zlib's, eight times as fast

_LOCAL, _DESCRIPTOR, _CENTRAL = 0x04034B50, 0x08074B50, 0x02014B50
_END64, _LOCATOR64, _END = 0x06064B50, 0x07064B50, 0x06054B50
_FLAGS = 0x0008              # sizes and CRC follow the data (data descriptor)
_UTF8 = 0x0800               # the name is UTF-8 (set only for names that are not ASCII)
_VERSION, _VERSION64 = 20, 45
_MADE_BY_UNIX = 3 << 8
_FILE_MODE = 0o644 << 16     # rw-r--r-- for unzip on Unix
_MAX32, _MAX16 = 0xFFFFFFFF, 0xFFFF
_LARGE = _MAX32              # sizes and offsets from here on need ZIP64 records
_GATHER = 1 << 20            # small pieces are gathered up to this size before they are handed on


@dataclass(frozen=True)
class Member:
    name: str                                  # path inside the archive, '/' separated
    size: int                                  # exact length in bytes
    chunks: Callable[[], Iterable[bytes]]      # called once, when the member is written


def _dos_stamp(when: time.struct_time | None) -> tuple[int, int]:
    year, month, day, hour, minute, second = max(tuple((when or time.localtime())[:6]), (1980, 1, 1, 0, 0, 0))
    return (hour << 11) | (minute << 5) | (second // 2), ((year - 1980) << 9) | (month << 5) | day


def _name(member: Member) -> tuple[bytes, int]:
    raw = member.name.encode("utf-8")
    return raw, (_FLAGS | _UTF8) if not member.name.isascii() else _FLAGS


def _is_large(member: Member) -> bool:
    return member.size >= _LARGE


def _local_header(member: Member, stamp: tuple[int, int]) -> bytes:
    name, flags = _name(member)
    # A large member's local header says its sizes are in the ZIP64 extra field (zero here; the
    # real ones follow the data), which also tells readers its data descriptor has 8-byte sizes.
    extra = struct.pack("<HHQQ", 0x0001, 16, 0, 0) if _is_large(member) else b""
    sizes = _MAX32 if extra else 0
    return struct.pack("<IHHHHHIIIHH", _LOCAL, _VERSION64 if extra else _VERSION, flags, 0, *stamp, 0,
                       sizes, sizes, len(name), len(extra)) + name + extra


def _descriptor(member: Member, crc: int) -> bytes:
    if _is_large(member):
        return struct.pack("<IIQQ", _DESCRIPTOR, crc, member.size, member.size)
    return struct.pack("<IIII", _DESCRIPTOR, crc, member.size, member.size)


def _central_header(member: Member, stamp: tuple[int, int], crc: int, offset: int) -> bytes:
    name, flags = _name(member)
    large_size, far = _is_large(member), offset >= _LARGE
    values = ([member.size, member.size] if large_size else []) + ([offset] if far else [])
    extra = struct.pack(f"<HH{len(values)}Q", 0x0001, 8 * len(values), *values) if values else b""
    version = _VERSION64 if extra else _VERSION
    return struct.pack("<IHHHHHHIIIHHHHHII", _CENTRAL, _MADE_BY_UNIX | version, version, flags, 0, *stamp,
                       crc, _MAX32 if large_size else member.size, _MAX32 if large_size else member.size,
                       len(name), len(extra), 0, 0, 0, _FILE_MODE, _MAX32 if far else offset) + name + extra


def _end_records(count: int, directory_size: int, directory_offset: int) -> bytes:
    needs64 = count >= _MAX16 or directory_size >= _LARGE or directory_offset >= _LARGE
    tail = b""
    if needs64:
        end64_offset = directory_offset + directory_size
        tail += struct.pack("<IQHHIIQQQQ", _END64, 44, _MADE_BY_UNIX | _VERSION64, _VERSION64, 0, 0,
                            count, count, directory_size, directory_offset)
        tail += struct.pack("<IIQI", _LOCATOR64, 0, end64_offset, 1)
    if not needs64:
        return struct.pack("<IHHHHIIH", _END, 0, 0, count, count, directory_size, directory_offset, 0)
    return tail + struct.pack("<IHHHHIIH", _END, 0, 0, _MAX16, _MAX16, _MAX32, _MAX32, 0)


def zip_size(members: Iterable[Member]) -> int:
    """The exact length in bytes of ``zip_chunks(members)``."""
    stamp = (0, 0)
    total = directory = count = 0
    for member in members:
        offset = total
        total += len(_local_header(member, stamp)) + member.size + len(_descriptor(member, 0))
        directory += len(_central_header(member, stamp, 0, offset))
        count += 1
    return total + directory + len(_end_records(count, directory, total))


def zip_chunks(members: Iterable[Member], when: time.struct_time | None = None) -> Iterator[bytes]:
    """The bytes of a ZIP of ``members``, in order; ValueError if a member is not its stated size."""
    stamp = _dos_stamp(when)
    gathered: list[bytes] = []
    gathered_size = 0

    def gather(piece: bytes) -> Iterator[bytes]:
        nonlocal gathered_size
        if len(piece) >= _GATHER:          # a large chunk goes on as it is, after what was gathered
            if gathered:
                yield b"".join(gathered)
                gathered.clear()
                gathered_size = 0
            yield piece
            return
        gathered.append(piece)
        gathered_size += len(piece)
        if gathered_size >= _GATHER:
            yield b"".join(gathered)
            gathered.clear()
            gathered_size = 0

    directory: list[bytes] = []
    offset = 0
    for member in members:
        header = _local_header(member, stamp)
        yield from gather(header)
        crc, written = 0, 0
        for chunk in member.chunks():
            crc = crc32(chunk, crc)
            written += len(chunk)
            if written > member.size:
                break
            yield from gather(chunk)
        if written != member.size:
            got = f"more than {member.size}" if written > member.size else str(written)
            raise ValueError(f"member {member.name} gave {got} bytes, expected {member.size}")
        yield from gather(_descriptor(member, crc))
        directory.append(_central_header(member, stamp, crc, offset))
        offset += len(header) + member.size + len(_descriptor(member, crc))
    directory_size = sum(len(entry) for entry in directory)
    for entry in directory:
        yield from gather(entry)
    yield from gather(_end_records(len(directory), directory_size, offset))
    if gathered:
        yield b"".join(gathered)
