"""The streamed ZIP: valid for zipfile and unzip, its size known beforehand, ZIP64 when needed."""

import io
import shutil
import subprocess
import zipfile

import pytest

from archive.media import zipstream
from archive.media.zipstream import Member, zip_chunks, zip_size

BIG = bytes(range(256)) * 9000


def _members():
    return [Member("DICOMDIR", 3, lambda: [b"abc"]),
            Member("README.TXT", 0, lambda: []),
            Member("PT000000/ST000000/SE000000/IM000000", len(BIG),
                   lambda: (BIG[i:i + (1 << 20)] for i in range(0, len(BIG), 1 << 20))),
            Member("RAPPORTS/ÉTÉ.TXT", 5, lambda: [b"hello"])]


def _read_back(data: bytes) -> zipfile.ZipFile:
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None   # every member's CRC-32 checks
    return archive


def test_a_valid_zip_of_exactly_the_announced_size():
    pieces = list(zip_chunks(_members()))
    data = b"".join(pieces)
    assert len(data) == zip_size(_members())
    archive = _read_back(data)
    assert archive.namelist() == [m.name for m in _members()]
    assert archive.read("PT000000/ST000000/SE000000/IM000000") == BIG
    assert archive.read("DICOMDIR") == b"abc" and archive.read("README.TXT") == b""
    assert archive.read("RAPPORTS/ÉTÉ.TXT") == b"hello"
    assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())


def test_large_chunks_pass_through_uncopied_and_small_pieces_are_gathered():
    chunk = bytes(2 << 20)
    members = [Member(f"F{i}", 10, (lambda: [b"0123456789"])) for i in range(3)]
    members.append(Member("BIG", len(chunk), lambda: [chunk]))
    pieces = list(zip_chunks(members))
    assert any(piece is chunk for piece in pieces)          # the vault's segment itself, not a copy
    assert len(pieces) == 3                                  # headers and small files in one piece before it


@pytest.mark.skipif(shutil.which("unzip") is None, reason="unzip is not installed")
def test_unzip_accepts_it(tmp_path):
    target = tmp_path / "a.zip"
    target.write_bytes(b"".join(zip_chunks(_members())))
    result = subprocess.run(["unzip", "-t", str(target)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zip64_records_where_sizes_or_offsets_do_not_fit(monkeypatch):
    # The 4 GiB limits, brought down so the ZIP64 paths run on small data.
    monkeypatch.setattr(zipstream, "_LARGE", 100_000)
    data = b"".join(zip_chunks(_members()))
    assert len(data) == zip_size(_members())
    archive = _read_back(data)
    assert archive.read("PT000000/ST000000/SE000000/IM000000") == BIG
    assert archive.read("RAPPORTS/ÉTÉ.TXT") == b"hello"          # stored past the (lowered) 4 GiB mark
    assert b"PK\x06\x06" in data[-200:] and b"PK\x06\x07" in data[-200:]


def test_more_than_65535_members_use_zip64_counts():
    members = [Member(f"F{i:05d}", 1, (lambda: [b"x"])) for i in range(70_000)]
    data = b"".join(zip_chunks(members))
    assert len(data) == zip_size(members)
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert len(archive.infolist()) == 70_000 and archive.read("F69999") == b"x"


@pytest.mark.parametrize("given, message", [([b"short"], "gave 5 bytes, expected 10"),
                                            ([b"0123456789", b"more"], "more than 10 bytes")])
def test_a_member_not_of_its_stated_size_stops_the_stream(given, message):
    with pytest.raises(ValueError, match=message):
        list(zip_chunks([Member("X", 10, lambda: given)]))
