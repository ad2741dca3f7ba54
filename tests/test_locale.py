"""`locale/ja` is complete: every translatable string of ours has a Japanese translation, compiled."""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale" / "ja" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
SOURCES = ["config", "ledger", "licensing", "payouts"]
GETTEXT_NAMES = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy", "pgettext", "pgettext_lazy"}


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def unescape(value: str) -> str:
    return re.sub(r'\\(["\\nt])', lambda match: _ESCAPES[match.group(1)], value)


PLURALS: dict[str, str] = {}  # singular msgid → its msgid_plural (Japanese has one form: msgstr[0])


def po_entries() -> dict[str, str]:
    text = PO.read_text(encoding="utf-8")
    entries = {}
    for block in text.split("\n\n"):
        assert "#, fuzzy" not in block, f"fuzzy entry in {PO.name}:\n{block}"
        match = re.search(
            r'^msgid ((?:".*"\n)+)(?:msgid_plural ((?:".*"\n)+))?msgstr(?:\[0\])? ((?:".*"\n?)+)', block, re.MULTILINE
        )
        if not match:
            continue
        msgid, plural, msgstr = ("".join(re.findall(r'"(.*)"', group or "")) for group in match.groups())
        entries[unescape(msgid)] = unescape(msgstr)
        if plural:
            PLURALS[unescape(msgid)] = unescape(plural)
    return entries


def source_strings() -> set[str]:
    found = set()
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
                if name in GETTEXT_NAMES:
                    arg = node.args[1] if name.startswith("pgettext") else node.args[0]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        found.add(arg.value)
    return found


def test_every_translatable_string_has_a_japanese_translation():
    entries = po_entries()
    strings = source_strings()
    assert strings, "no translatable strings found: the scan is broken"
    missing = sorted(s for s in strings if not entries.get(s))
    assert not missing, f"run `make messages` and translate: {missing}"


def test_compiled_catalogue_matches_the_po_file():
    with MO.open("rb") as handle:
        catalogue = gettext.GNUTranslations(handle)
    for msgid, msgstr in po_entries().items():
        if msgid:
            found = catalogue.ngettext(msgid, PLURALS[msgid], 2) if msgid in PLURALS else catalogue.gettext(msgid)
            assert found == msgstr, f"{MO.name} is stale for {msgid!r}: run `make messages`"
