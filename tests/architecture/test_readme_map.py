"""README's "Where things are" map matches the folders, so it cannot drift."""

from __future__ import annotations

import ast
import re

from tests.support.cli import ROOT

CAPABILITIES = ["share links", "CD export", "comparison", "repeat metrics", "PACS pull", "send",
                "reports", "de-identification", "QA", "audit"]


def map_lines() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Where things are\n", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^- `([^`]+/)`: (.+)$", section, re.MULTILINE))


def test_every_capability_folder_is_on_the_map_and_nothing_else():
    listed = {path for path in map_lines() if path.startswith("archive/")}
    folders = {f"archive/{p.parent.name}/" for p in (ROOT / "archive").glob("*/__init__.py")}
    assert listed == folders


def test_every_folder_on_the_map_exists_and_says_what_it_is():
    for path in map_lines():
        folder = ROOT / path
        assert folder.is_dir(), path
        init = folder / "__init__.py"
        if path.startswith("archive/"):
            assert ast.get_docstring(ast.parse(init.read_text())), f"{init} has no docstring"


def test_a_newcomer_finds_each_capability_by_its_name():
    lines = map_lines()
    for capability in CAPABILITIES:
        assert [p for p, text in lines.items() if capability in text], capability
