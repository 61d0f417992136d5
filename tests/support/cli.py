"""The real ``limestone`` command in a subprocess, for tests of the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def limestone(*args: str, home: Path | None = None, env: dict | None = None,
              check: bool = False, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the real ``limestone`` command in a subprocess."""
    command = [sys.executable, "-m", "pipelines"] + (["--home", str(home)] if home else []) + list(args)
    full_env = dict(os.environ, **(env or {}))
    result = subprocess.run(command, capture_output=True, text=True, env=full_env, cwd=ROOT,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{command} -> {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result
