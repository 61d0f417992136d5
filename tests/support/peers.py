"""Helpers of the integration tests: real test files, the CLI as a subprocess, polling, dcmtk."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from unittest import mock

import pytest
from pydicom.data import get_testdata_file

from tests.support.orthanc_server import OrthancServer

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable

# Real files, one per transfer syntax (distinct SOP Instance UIDs: many of pydicom's variants share one).
REAL_FILES = [
    "CT_small.dcm",                    # Explicit VR Little Endian
    "rtdose.dcm",                      # Implicit VR Little Endian
    "MR_small_jpeg_ls_lossless.dcm",   # JPEG-LS lossless
    "JPEG2000.dcm",                    # JPEG 2000
    "emri_small_jpeg_2k_lossless.dcm", # JPEG 2000 lossless
    "JPEG-LL.dcm",                     # JPEG lossless SV1
    "JPEG-lossy.dcm",                  # JPEG extended (12 bit)
    "SC_rgb_jpeg_dcmtk.dcm",           # JPEG baseline
    "SC_rgb_rle.dcm",                  # RLE lossless
    "examples_ybr_color.dcm",          # US multi-frame, JPEG baseline
    "test-SR.dcm",                     # a structured report
]

def real_files() -> list[Path]:
    return [Path(get_testdata_file(name, download=False)) for name in REAL_FILES]


def dataset_bytes(data: bytes) -> bytes:
    """A DICOM file's bytes after its file meta group: what travels over the network unchanged."""
    offset = 132 if data[128:132] == b"DICM" else 0
    # (0002,0000) UL group length, explicit VR little endian: tag(4) VR(2) len(2) value(4)
    assert data[offset:offset + 4] == b"\x02\x00\x00\x00", "file meta must start with its group length"
    (length,) = struct.unpack("<I", data[offset + 8:offset + 12])
    dataset = data[offset + 12 + length:]
    # DCMTK (inside Orthanc) leaves out Data Set Trailing Padding (FFFC,FFFC) when it sends a file.
    padding = dataset.rfind(b"\xfc\xff\xfc\xffOB\x00\x00")
    if padding >= 0:
        (size,) = struct.unpack("<I", dataset[padding + 8:padding + 12])
        if padding + 12 + size == len(dataset):
            dataset = dataset[:padding]
    return dataset


class Limestone:
    """Runs ``limestone`` commands against one home: in this process, or as a real subprocess."""

    def __init__(self, home: Path, env: dict[str, str] | None = None):
        self.home = home
        self.env = dict(os.environ, **(env or {}))
        self.env.pop("LIMESTONE_HOME", None)

    def command(self, *args: str) -> list[str]:
        return [PYTHON, "-m", "pipelines", "--home", str(self.home), *args]

    def __call__(self, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        """Run a command in this process (imports are paid once: the machine is small)."""
        from pipelines.cli import main
        out, err = io.StringIO(), io.StringIO()
        with mock.patch.dict(os.environ, dict(self.env, **(env or {})), clear=True), \
                contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["--home", str(self.home), *args])
        return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())

    def run(self, *args: str, timeout: float = 180, env: dict | None = None) -> subprocess.CompletedProcess:
        """Run the real command as a subprocess."""
        return subprocess.run(self.command(*args), cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout, env=dict(self.env, **(env or {})))

    def popen(self, *args: str, env: dict | None = None) -> subprocess.Popen:
        return subprocess.Popen(self.command(*args), cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=dict(self.env, **(env or {})),
                                start_new_session=True)

    def add_node(self, name: str, pacs: OrthancServer, *extra: str) -> None:
        result = self("nodes", "add", name, "--ae-title", pacs.ae_title, "--host", "127.0.0.1",
                      "--port", str(pacs.dicom_port), *extra)
        assert result.returncode == 0, result.stderr

    def store(self):
        from archive.home import Archive
        return Archive.load(home=str(self.home))


def wait_for(condition, timeout: float, what: str, interval: float = 0.02):
    """Poll ``condition`` until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def port_open(port: int) -> bool:
    """True once something accepts connections on ``port`` of the loopback interface."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Lines:
    """Collects a process's output lines in a thread, so a test can wait for one without blocking."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, needle: str, timeout: float = 60) -> str:
        return wait_for(lambda: next((line for line in self.lines if needle in line), None), timeout,
                        f"a line with {needle!r}")


def stop_process(process: subprocess.Popen, timeout: float = 60) -> int:
    """SIGTERM a process we started and wait for it; kill it if it does not stop in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(f"process {process.pid} did not stop within {timeout} s of SIGTERM") from None
    return process.returncode


def vault_files(home: Path) -> int:
    """Files in a home's vault, counted without opening the store (cheap enough to poll)."""
    return sum(1 for _ in (home / "vault").rglob("*.lsv"))


def archive_counts(home: Path) -> tuple[int, int]:
    """(instances in the store, files in the vault) of a home; (0, 0) before the store exists."""
    from archive.home import Archive
    archive = Archive.load(home=str(home))
    files = sum(1 for _ in archive.vault.hashes())
    if not archive.home.catalog_path.exists():
        return 0, files
    try:
        con = archive.store(read_only=True)
    except Exception:  # not migrated yet
        return 0, files
    try:
        return con.execute("SELECT count(*) FROM instances").fetchone()[0], files
    finally:
        con.close()


def dcmtk_env() -> dict[str, str]:
    return dict(os.environ, TCP_NODELAY="1")


def require_dcmtk(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"dcmtk tools missing: {', '.join(missing)} (apt-get install dcmtk)")
