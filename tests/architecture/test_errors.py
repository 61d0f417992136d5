"""One error base: every exception class of archive/ is a LimestoneError, and the CLI shows its message."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import archive
from archive.errors import LimestoneError
from archive.sharing.links import ShareError
from pipelines import stats
from pipelines.cli import main


def archive_exceptions() -> list[type]:
    found = []
    for info in pkgutil.walk_packages(archive.__path__, "archive."):
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == info.name:
                found.append(obj)
    return found


def test_every_archive_exception_derives_from_limestone_error():
    found = archive_exceptions()
    assert len(found) >= 15
    assert [e.__qualname__ for e in found if not issubclass(e, LimestoneError)] == []


def test_the_command_line_prints_the_message_of_any_limestone_error(tmp_path, monkeypatch, capsys):
    def refuse(args, archive):
        raise ShareError("the link has expired")
    monkeypatch.setattr(stats, "run", refuse)
    assert main(["--home", str(tmp_path / "home"), "stats"]) == 2
    assert capsys.readouterr().err == "limestone stats: the link has expired\n"
