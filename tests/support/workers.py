"""``limestone worker`` processes for tests: started with a distributed archive's settings, stopped
(or killed) by the test, each with its own home folder as on its own machine."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.cli import ROOT

MASTER_KEY = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VnhwEjRWeJCrze8="   # a test key, never a real one


def role_env(distributed, extra: dict | None = None) -> dict[str, str]:
    return {**os.environ, **distributed.env, "LIMESTONE_MASTER_KEY": MASTER_KEY,
            "LIMESTONE_MASTER_KEY_ID": "mk-test", "LIMESTONE_IMPORT_WORKERS": "1", **(extra or {})}


def limestone(distributed, *args: str, root: Path | None = None, env: dict | None = None,
              timeout: float = 300) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pipelines", "--home", str(root or distributed.root), *args]
    return subprocess.run(command, capture_output=True, text=True, env=role_env(distributed, env), cwd=ROOT,
                          timeout=timeout)


class Worker:
    """One ``limestone worker`` in its own process group (so kill -9 takes it whole)."""

    def __init__(self, distributed, root: Path, *options: str, env: dict | None = None):
        root.mkdir(parents=True, exist_ok=True)
        self.log = root / "worker.log"
        command = [sys.executable, "-m", "pipelines", "--home", str(root), "worker",
                   "--heartbeat", "1", "--stalled-after", "4", *options]
        self.process = subprocess.Popen(command, cwd=ROOT, env=role_env(distributed, env),
                                        stdout=open(self.log, "wb"), stderr=subprocess.STDOUT,
                                        start_new_session=True)

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """kill -9: no heartbeat, no goodbye, its job left 'doing'."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 60) -> int:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def submit(distributed, *args: str) -> str:
    result = limestone(distributed, "jobs", "submit", *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["submission_id"]


def wait_done(distributed, submission: str, timeout: float = 240) -> dict:
    result = limestone(distributed, "jobs", "wait", submission, "--timeout", str(timeout), "--json",
                       timeout=timeout + 60)
    item = json.loads(result.stdout)
    assert item["done"], item
    return item


def wait_for(check, timeout: float = 60, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out waiting")
