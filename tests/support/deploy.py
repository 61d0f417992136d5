"""The roles of ``deploy/`` (systemd units + the example environment file) started as systemd would
start them, without systemd: the unit's ``ExecStart`` command line, its ``WorkingDirectory``, its
``Environment=`` lines and the environment file (which, as in systemd, overrides ``Environment=``).

The install prefix of the units (``/opt/limestone``) is this checkout, and its ``.venv/bin/X``
programs are run as ``python -m`` of the same package, so the test runs this tree's code. The test
gives the values a region's real environment file would hold (its database, bucket, ports); each
must be a key the example file has, so the example cannot leave one out.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.cli import ROOT

DEPLOY = ROOT / "deploy"
PREFIX = "/opt/limestone"
ENV_FILE = DEPLOY / "limestone.env.example"
PROGRAMS = {"limestone": [sys.executable, "-m", "pipelines"], "streamlit": [sys.executable, "-m", "streamlit"]}


def read_unit(name: str) -> dict[str, list[str]]:
    """A unit file's ``Key=value`` lines, by key (a key may repeat), sections flattened."""
    found: dict[str, list[str]] = {}
    for line in (DEPLOY / name).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        found.setdefault(key.strip(), []).append(value.strip())
    return found


def read_env_file(path: Path = ENV_FILE) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


@dataclass
class Role:
    unit: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    process: subprocess.Popen | None = None
    log: Path | None = None

    def start(self, log: Path) -> "Role":
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdout=open(log, "wb"),
                                        stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def kill(self) -> None:
        """kill -9 of the whole service (systemd's KillMode=control-group would do the same)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 60) -> int | None:
        """The unit's KillSignal, then SIGKILL after ``timeout``."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            sig = getattr(signal, read_unit(self.unit).get("KillSignal", ["SIGTERM"])[0])
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""


def role(unit: str, values: dict[str, str], instance: str = "") -> Role:
    """The role of ``unit`` (``instance`` for ``%i``) with the example file's keys set to ``values``."""
    spec = read_unit(unit)
    example = read_env_file()
    unknown = set(values) - set(example)
    assert not unknown, f"the example environment file lacks {sorted(unknown)}"
    assert spec["EnvironmentFile"] == ["/etc/limestone/limestone.env"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIMESTONE_", "AWS_", "STREAMLIT_"))}
    for line in spec.get("Environment", []):
        key, _, value = line.replace("%i", instance).partition("=")
        assert key not in example, f"{key} in the environment file would override the unit's {key}"
        env[key] = value
    env.update(example)       # the environment file overrides Environment=, as in systemd
    env.update(values)
    (command,) = spec["ExecStart"]
    argv = shlex.split(command.replace("%i", instance))
    program = argv[0]
    assert program.startswith(f"{PREFIX}/.venv/bin/"), program
    argv = PROGRAMS[Path(program).name] + argv[1:]
    (cwd,) = spec["WorkingDirectory"]
    return Role(unit, argv, env, Path(cwd.replace(PREFIX, str(ROOT))))
