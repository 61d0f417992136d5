"""A real Orthanc PACS for tests and benchmarks: own storage, free loopback ports, foreground process.

``OrthancServer(folder).start()`` writes a config, starts ``/usr/sbin/Orthanc`` with
``TCP_NODELAY=1`` (Debian's DCMTK leaves Nagle on otherwise), and waits until its HTTP
``/system`` answers. ``stop()`` sends SIGTERM and waits for the process to exit, so the storage
can be reused. Instances are loaded over HTTP (``POST /instances``), which keeps every transfer
syntax as is.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

ORTHANC = "/usr/sbin/Orthanc"
DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def available() -> bool:
    return Path(ORTHANC).exists()


class OrthancServer:
    def __init__(self, folder: Path, ae_title: str = "ORTHANC", modalities: dict | None = None,
                 strict: bool = False, users: dict[str, str] | None = None):
        self.folder = Path(folder)
        self.ae_title = ae_title
        self.http_port = free_port()
        self.dicom_port = free_port()
        self.modalities = modalities or {}   # name -> [AE, host, port]
        self.strict = strict                  # only the AE titles in ``modalities`` may call
        self.users = users or {}              # HTTP users (user -> password): authentication on
        self.process: subprocess.Popen | None = None
        self.log_path = self.folder / "orthanc.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def _write_config(self) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        config = {
            "Name": "limestone-test",
            "StorageDirectory": str(self.folder / "storage"),
            "IndexDirectory": str(self.folder / "storage"),
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": self.ae_title,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": bool(self.users),
            "RegisteredUsers": self.users,
            "DicomAlwaysAllowFind": not self.strict,
            "DicomAlwaysAllowGet": not self.strict,
            "DicomAlwaysAllowMove": not self.strict,
            "DicomAlwaysAllowEcho": not self.strict,
            "DicomAlwaysAllowStore": not self.strict,
            "DicomCheckCalledAet": False,
            "DicomModalities": self.modalities,
            "SaveJobs": False,
            "StableAge": 1,
            "HttpTimeout": 30,
            "DicomScpTimeout": 30,
            "Plugins": [DICOMWEB_PLUGIN] if Path(DICOMWEB_PLUGIN).exists() else [],
        }
        path = self.folder / "orthanc.json"
        path.write_text(json.dumps(config, indent=1))
        return path

    def start(self, timeout: float = 30.0) -> "OrthancServer":
        config = self._write_config()
        env = dict(os.environ, TCP_NODELAY="1")
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen([ORTHANC, str(config)], stdout=log, stderr=subprocess.STDOUT,
                                        env=env, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited at start (see {self.log_path})")
            try:
                with urllib.request.urlopen(self.url + "/system", timeout=1) as reply:
                    if reply.status == 200 and self._dicom_open():
                        return self
            except urllib.error.HTTPError as exc:
                if exc.code == 401 and self.users and self._dicom_open():
                    return self
            except (urllib.error.URLError, ConnectionError, socket.timeout):
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"Orthanc did not answer within {timeout} s (see {self.log_path})")

    def _dicom_open(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.dicom_port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self, timeout: float = 20.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """Stop abruptly (SIGKILL), as a crashed or unplugged PACS would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self) -> "OrthancServer":
        self.stop()
        return self.start()

    # ---- HTTP API -----------------------------------------------------------------------------
    def request(self, method: str, path: str, data: bytes | None = None, timeout: float = 60):
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if self.users:
            import base64
            user, password = next(iter(self.users.items()))
            req.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
        if data is not None:
            req.add_header("Content-Type", "application/dicom" if method == "POST" and path == "/instances"
                           else "application/json")
        with urllib.request.urlopen(req, timeout=timeout) as reply:
            body = reply.read()
        return json.loads(body) if body else None

    def upload(self, paths) -> int:
        count = 0
        for path in paths:
            self.request("POST", "/instances", Path(path).read_bytes())
            count += 1
        return count

    def upload_bytes(self, data: bytes) -> dict:
        return self.request("POST", "/instances", data)

    def studies(self) -> list[str]:
        return self.request("GET", "/studies")

    def delete_study_by_uid(self, study_uid: str) -> None:
        found = self.request("POST", "/tools/lookup", study_uid.encode())
        for item in found or []:
            if item["Type"] == "Study":
                self.request("DELETE", f"/studies/{item['ID']}")

    def __enter__(self) -> "OrthancServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def dcmtk(tool: str) -> str | None:
    return shutil.which(tool)
