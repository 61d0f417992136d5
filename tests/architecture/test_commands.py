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
