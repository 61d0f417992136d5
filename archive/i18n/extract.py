"""Babel extraction of messages by the syntax tree, so ``_()`` inside an f-string is found too.

Babel's own Python extractor reads tokens, and on Python 3.11 an f-string is one token: a
``{_("Open")}`` inside it would be missed and never translated. This one walks the module's
syntax tree and yields every call of a keyword function (``_``, ``gettext``, ``N_``,
``ngettext``) whose message arguments are string constants. ``archive/i18n/babel.cfg`` names it.
"""

from __future__ import annotations

import ast
from typing import IO, Any, Iterator

KEYWORDS = {"_": 1, "gettext": 1, "N_": 1, "ngettext": 2, "t": 1}   # t: portal.i18n.t


def messages(source: str) -> list[tuple[int, str, str | tuple[str, ...]]]:
    """(line, function, message or (singular, plural)) of every translatable call in ``source``,
    in the order they are written."""
    found = []
    calls = sorted((n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)),
                   key=lambda n: (n.lineno, n.col_offset))
    for node in calls:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if name not in KEYWORDS or len(node.args) < KEYWORDS[name]:
            continue
        args = node.args[:KEYWORDS[name]]
        if all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args):
            texts = tuple(a.value for a in args)   # type: ignore[attr-defined]
            found.append((node.lineno, name, texts[0] if len(texts) == 1 else texts))
    return found


def extract(fileobj: IO[bytes], keywords: Any, comment_tags: Any,
            options: dict[str, Any]) -> Iterator[tuple[int, str, str | tuple[str, ...], list[str]]]:
    """The Babel extraction method: ``[archive.i18n.extract:extract: **.py]``."""
    source = fileobj.read().decode(options.get("encoding", "utf-8"))
    for line, name, message in messages(source):
        yield line, name, message, []
