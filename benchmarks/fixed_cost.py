"""The fixed cost of a command that has nothing to do, phase by phase, on one home.

Used by import_throughput.py and pull_throughput.py. Each phase runs in a fresh interpreter, as a
real command does, and the best of ``rounds`` counts (a shared machine is noisy):

* interpreter start (``python -c pass``): the baseline, paid by any Python command;
* start: ``limestone <command> --help`` (the interpreter plus the command's imports);
* store open: ``Archive.load(...).store()`` on the home;
* end-of-run update: ``archive.repeats.update.after_run`` when nothing changed (the freshness check);
* the whole command with nothing to do, from process start to exit.

Target: the whole command under 1 s on the demo archive.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

STORE_OPEN = """
import sys, time
started = time.perf_counter()
from archive.home import Archive
Archive.load(home=sys.argv[1]).store().close()
print(time.perf_counter() - started)
"""

END_UPDATE = """
import sys, time
from archive.home import Archive
from archive.repeats.update import after_run
archive = Archive.load(home=sys.argv[1])
con = archive.store()
started = time.perf_counter()
after_run(con, archive.home)
print(time.perf_counter() - started)
con.close()
"""


def demo_home(folder: Path, patients: int) -> Path:
    """A home holding the demo archive of ``patients`` people (``limestone demo``)."""
    home = folder / "demo-home"
    subprocess.run([PYTHON, "-m", "pipelines", "--home", str(home), "demo", "--patients", str(patients)],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return home


def _wall(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=False, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def _reported(code: str, home: Path, env: dict[str, str]) -> float:
    out = subprocess.run([PYTHON, "-c", code, str(home)], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def measure(home: Path, command: list[str], rounds: int = 3,
            env: dict[str, str] | None = None) -> list[tuple[str, float]]:
    """(phase, best seconds) for ``limestone <command>`` on ``home``; the first row is the baseline."""
    env = dict(os.environ, **(env or {}), LIMESTONE_HOME=str(home), PYTHONPATH=str(ROOT))
    limestone = [PYTHON, "-m", "pipelines", "--home", str(home)]
    phases = {
        "interpreter start (python -c pass): baseline": lambda: _wall([PYTHON, "-c", "pass"], env),
        f"start: limestone {command[0]} --help": lambda: _wall([*limestone, command[0], "--help"], env),
        "store open (Archive.load + store())": lambda: _reported(STORE_OPEN, home, env),
        "end-of-run update, nothing changed": lambda: _reported(END_UPDATE, home, env),
        f"whole: limestone {' '.join(command)} (nothing to do)": lambda: _wall([*limestone, *command], env),
    }
    return [(name, min(run() for _ in range(rounds))) for name, run in phases.items()]


def print_table(title: str, rows: list[tuple[str, float]], target: float = 1.0) -> None:
    width = max(len(name) for name, _ in rows)
    print(f"\n{title}\n")
    print(f"| {'phase':<{width}} | seconds |")
    print(f"|{'-' * (width + 2)}|---------|")
    for name, seconds in rows:
        print(f"| {name:<{width}} | {seconds:7.3f} |")
    name, worst = max(rows[1:], key=lambda row: row[1]) if target < 1.0 else rows[-1]
    print(f"\n{'slowest: ' + name if target < 1.0 else 'whole command'} {worst:.2f} s (target < {target} s); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def help_starts(rounds: int = 3) -> list[tuple[str, float]]:
    """(``limestone [COMMAND] --help``, best seconds) for every command; the first row is the baseline."""
    from pipelines.cli import COMMANDS

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    limestone = [PYTHON, "-m", "pipelines"]
    commands = [["--help"], *([name, "--help"] for name in COMMANDS)]
    rows = [("interpreter start (python -c pass): baseline", min(_wall([PYTHON, "-c", "pass"], env)
                                                                 for _ in range(rounds)))]
    for words in commands:
        rows.append((f"limestone {' '.join(words)}", min(_wall([*limestone, *words], env) for _ in range(rounds))))
    return rows


def main(argv: list[str] | None = None) -> int:
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=20, help="demo archive size in people (default 20)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per phase; the best counts (default 3)")
    args = parser.parse_args(argv)
    rows = help_starts(args.rounds)
    print_table("Start of every command (--help: its imports only)", rows, target=0.5)
    with tempfile.TemporaryDirectory(prefix="limestone-fixed-") as tmp:
        home = demo_home(Path(tmp), args.patients)
        empty = Path(tmp) / "empty"
        empty.mkdir()
        print_table(f"Fixed cost of an import, demo archive of {args.patients} people",
                    measure(home, ["import", str(empty)], args.rounds))
        print_table(f"Fixed cost of stats, demo archive of {args.patients} people",
                    measure(home, ["stats"], args.rounds))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
