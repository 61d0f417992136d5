"""The message catalogues are complete and current: every patient-facing message in the code has
a French translation with the same placeholders, and each compiled .mo is its .po."""

from __future__ import annotations

import io
import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from archive import i18n
from archive.i18n.extract import messages
from tests.support.cli import ROOT

TRANSLATED = [lang for lang in i18n.LANGUAGES if lang != i18n.DEFAULT]
PLACEHOLDER = re.compile(r"\{(\w*)\}")


def in_code() -> set[str | tuple[str, ...]]:
    """Every message the code marks, found the way scripts/i18n finds them."""
    method = {"**.py": "archive.i18n.extract:extract"}
    found = set()
    for folder in ("portal", "archive"):
        for _file, _line, message, _comments, _context in extract_from_dir(
                str(ROOT / folder), method_map=list(method.items()), keywords={"_": None, "N_": None, "t": None,
                                                                               "gettext": None, "ngettext": (1, 2)}):
            found.add(message)
    return found


def catalogue(lang: str):
    path = i18n.LOCALE_DIR / lang / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
    with open(path, "rb") as f:
        return path, read_po(f, locale=lang)


def test_the_code_has_messages_to_translate():
    found = in_code()
    assert "Open shared images" in found and ("{count} image", "{count} images") in found
    assert len(found) > 50


def test_every_message_has_a_translation_in_every_language():
    found = in_code()
    for lang in TRANSLATED:
        _path, cat = catalogue(lang)
        entries = {m.id: m for m in cat if m.id}
        missing = sorted(str(m) for m in found if m not in entries and (m[0] if isinstance(m, tuple) else m)
                         not in entries)
        assert missing == [], f"{lang}: run scripts/i18n and translate: {missing[:5]}"
        empty = sorted(str(m.id) for m in entries.values()
                       if "fuzzy" in m.flags or not (all(m.string) if isinstance(m.string, tuple) else m.string))
        assert empty == [], f"{lang}: untranslated or fuzzy: {empty[:5]}"
        unused = sorted(str(k) for k in entries if k not in found)
        assert unused == [], f"{lang}: no longer in the code (run scripts/i18n): {unused[:5]}"


def test_translations_keep_their_placeholders():
    for lang in TRANSLATED:
        _path, cat = catalogue(lang)
        for m in cat:
            if not m.id:
                continue
            ids = m.id if isinstance(m.id, tuple) else (m.id,)
            strings = m.string if isinstance(m.string, tuple) else (m.string,)
            want = set(PLACEHOLDER.findall(ids[-1])) | set(PLACEHOLDER.findall(ids[0]))
            for s in strings:
                assert set(PLACEHOLDER.findall(s)) == want, (lang, m.id, s)


def test_each_compiled_catalogue_is_its_po():
    for lang in TRANSLATED:
        path, cat = catalogue(lang)
        compiled = io.BytesIO()
        write_mo(compiled, cat)
        assert Path(path.with_suffix(".mo")).read_bytes() == compiled.getvalue(), \
            f"{path.with_suffix('.mo')} is stale: run scripts/i18n compile"


def test_the_extractor_finds_messages_inside_f_strings():
    source = 'x = f"<b>{_(\'Open\')}</b>"\ny = ngettext("{n} file", "{n} files", n)\nz = _(variable)\n'
    assert [m[2] for m in messages(source)] == ["Open", ("{n} file", "{n} files")]


def test_french_text_and_plurals_come_from_the_catalogue():
    with i18n.language("fr"):
        assert i18n.gettext("Open shared images") == "Ouvrir les images partagées"
        assert i18n.ngettext("{count} image", "{count} images", 1).format(count=1) == "1 image"
        assert i18n.ngettext("{count} image", "{count} images", 2).format(count=2) == "2 images"
        assert i18n.ngettext("{count} image", "{count} images", 0).format(count=0) == "0 image"
        from datetime import date
        assert i18n.format_date(date(2026, 12, 7), "d MMM y") == "7 déc. 2026"
    assert i18n.gettext("Open shared images") == "Open shared images"
    assert i18n.format_date(date(2026, 12, 7), "d MMM y") == "7 Dec 2026"


def test_the_language_is_the_switch_then_the_cookie_then_the_browser():
    assert i18n.choose(None, None, "fr-CA,fr;q=0.9,en;q=0.8") == "fr"
    assert i18n.choose(None, None, "en-CA,en;q=0.9,fr;q=0.8") == "en"
    assert i18n.choose(None, None, "de-DE, fr;q=0.5, en;q=0.3") == "fr"     # the best we have
    assert i18n.choose(None, None, "de-DE") == "en"
    assert i18n.choose(None, None, "fr;q=0, en") == "en"                     # q=0 means "not this"
    assert i18n.choose(None, None, "garbage;q=x,,;") == "en"
    assert i18n.choose(None, "fr", "en-CA") == "fr"                          # remembered beats the browser
    assert i18n.choose("en", "fr", "fr-CA") == "en"                          # the switch beats both
    assert i18n.choose("xx", "zz", None) == "en"                             # unknown values are ignored


def test_no_module_that_translates_uses_underscore_as_a_throwaway_name():
    """``ip, _ = ...`` in a module that calls ``_()`` turns the next ``_("text")`` into a crash."""
    import ast
    clashes = []
    for path in sorted([*(ROOT / "portal").rglob("*.py"), *(ROOT / "archive").rglob("*.py")]):
        tree = ast.parse(path.read_text())
        imports_it = any(isinstance(n, ast.ImportFrom) and n.module == "archive.i18n"
                         and any(a.name == "_" for a in n.names) for n in ast.walk(tree))
        if not imports_it:
            continue
        for node in ast.walk(tree):
            targets = (node.targets if isinstance(node, ast.Assign) else
                       [node.target] if isinstance(node, (ast.For, ast.AugAssign, ast.AnnAssign)) else [])
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name) and name.id == "_" and isinstance(name.ctx, ast.Store):
                        clashes.append(f"{path.relative_to(ROOT)}:{name.lineno}")
    assert clashes == []
