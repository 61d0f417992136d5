"""HL7 over MLLP against a sender that never stops: cut off at the size limit, connection closed,
nothing of the message in the log; and report times that keep their UTC offset."""

from __future__ import annotations

import logging
import socket
import time
from datetime import datetime, timedelta, timezone

import pytest

from archive.home import Archive
from archive.reports import hl7v2
from archive.reports.mllp import MllpServer
from archive.reports.store import Report, insert, waiting
from tests.support.hl7_messages import oru

SECRET = b"FAKE^SECRETNAME^"


@pytest.fixture
def server(tmp_path):
    archive = Archive.load(home=str(tmp_path / "home"), hl7_max_message_kb=4)
    archive.home.ensure()
    running = MllpServer(archive, 0, "127.0.0.1").start()
    yield running
    running.stop()


def _closed_after_ack(sock: socket.socket, timeout: float = 10) -> tuple[bytes, bool]:
    """What the server sent, and whether it then closed the connection (within ``timeout``)."""
    sock.settimeout(timeout)
    received = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return received, True
        except TimeoutError:
            return received, False
        if not chunk:
            return received, True
        received += chunk
    return received, False


def test_an_oversized_block_is_refused_and_the_connection_closed(server, caplog):
    caplog.set_level(logging.INFO, logger="limestone.hl7")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"\x0bMSH|^~\\&|X\rPID|1||FAKE-1||" + SECRET * 1000 + b"\x1c\r")
        received, closed = _closed_after_ack(sock)
    assert b"message too large" in received and b"MSA|AR" in received
    assert closed
    assert "over 4 KB" in caplog.text
    assert "SECRETNAME" not in caplog.text


def test_an_endless_block_is_cut_off(server, caplog):
    caplog.set_level(logging.INFO, logger="limestone.hl7")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"\x0b")
        sent, closed = 0, False
        try:
            while sent < 64 * 1024 * 1024:   # never an end: the server must stop it long before
                sock.sendall(SECRET * 4096)
                sent += len(SECRET) * 4096
        except (BrokenPipeError, ConnectionResetError):
            closed = True
        if not closed:
            _, closed = _closed_after_ack(sock)
    assert closed and sent < 64 * 1024 * 1024
    assert "SECRETNAME" not in caplog.text


def test_a_message_under_the_limit_is_still_answered(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"\x0b" + oru("FAKE-OK", "FAKE-ACC-1").encode() + b"\x1c\r")
        sock.settimeout(30)
        received = b""
        while b"\x1c\r" not in received:
            received += sock.recv(65536)
    assert b"MSA|AA|FAKE-OK" in received


@pytest.mark.parametrize("text, expected", [
    ("20261128143000+0100", datetime(2026, 11, 28, 14, 30, tzinfo=timezone(timedelta(hours=1)))),
    ("202611281430-0500", datetime(2026, 11, 28, 14, 30, tzinfo=timezone(timedelta(hours=-5)))),
    ("20261128143000.1234-0030", datetime(2026, 11, 28, 14, 30, tzinfo=timezone(timedelta(minutes=-30)))),
    ("20261128143000", datetime(2026, 11, 28, 14, 30)),
    ("20261128", datetime(2026, 11, 28)),
])
def test_report_times_keep_their_utc_offset(text, expected):
    parsed = hl7v2.parse(oru("FAKE-TZ", "FAKE-ACC-TZ", when=text))
    (report,) = parsed.reports
    assert report.report_datetime == expected
    assert report.report_datetime.utcoffset() == expected.utcoffset()


def test_the_offset_is_stored_and_read_back(tmp_path):
    archive = Archive.load(home=str(tmp_path / "home"))
    con = archive.store()
    try:
        when = datetime(2026, 11, 28, 14, 30, tzinfo=timezone(timedelta(hours=1)))
        insert(con, [Report("hl7:X:1:1", "hl7:X:1:1", "hl7", "final", "text", accession_number="FAKE-NONE",
                            report_datetime=when),
                     Report("hl7:X:2:1", "hl7:X:2:1", "hl7", "final", "text", accession_number="FAKE-NONE",
                            report_datetime=datetime(2026, 11, 28, 9, 0))])
        shown = {r["report_id"]: r["report_datetime"] for r in waiting(con)}
    finally:
        con.close()
    assert shown["hl7:X:1:1"] == when and shown["hl7:X:1:1"].utcoffset() == timedelta(hours=1)
    assert shown["hl7:X:1:1"].hour == 14          # the sender's clock, as written
    assert shown["hl7:X:2:1"] == datetime(2026, 11, 28, 9, 0)
