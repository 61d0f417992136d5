"""The command table of ``limestone``: its help lines match the modules, and --help stays light."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

import pytest

from pipelines.cli import COMMANDS
from tests.support.cli import ROOT


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_table_says_what_each_module_registers(name):
    module, summary = COMMANDS[name]
    subparsers = argparse.ArgumentParser().add_subparsers()
    importlib.import_module(module).add_parser(subparsers)
    registered = {a.dest: a.help for a in subparsers._choices_actions}
    assert registered == {name: summary}


def test_help_imports_no_command_module():
    code = ("import sys, contextlib, io\nfrom pipelines.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('pipelines.') or m in "
            "('duckdb', 'pydicom', 'pandas', 'pynetdicom')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['pipelines.cli']"


HEAVY = ("duckdb", "pandas", "pyarrow", "pydicom", "pynetdicom", "numpy", "cryptography")


def imported_modules(importtime_stderr: str) -> set[str]:
    """The module names of ``python -X importtime`` output (lines ``import time: self | total | name``)."""
    return {line.rsplit("|", 1)[1].strip() for line in importtime_stderr.splitlines()
            if line.startswith("import time:") and line.count("|") == 2}


@pytest.mark.parametrize("words", [["--help"], *([name, "--help"] for name in sorted(COMMANDS))],
                         ids=lambda words: " ".join(words))
def test_help_imports_no_heavy_library(words):
    """A command's --help (its start) pays for argparse, not for the libraries its run needs."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "pipelines", *words], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    assert "usage: limestone" in out.stdout
    modules = imported_modules(out.stderr)
    assert "argparse" in modules   # the output was read: not an empty set passing by default
    assert sorted(m for m in modules if m.split(".")[0] in HEAVY) == []
