"""Work references as clients write them (API.md): `<uuid>` · `isbn:…` · `iscc:…` · `ext:<scheme>:<value>`."""

from __future__ import annotations

import re
import uuid
from functools import lru_cache
from typing import NamedTuple

from django.core.exceptions import ValidationError

from .validators import normalize_isbn, normalize_iscc


class Reference(NamedTuple):
    """A parsed reference: exactly one kind is set. A NamedTuple, not a dataclass: a usage report makes one per
    distinct reference, hundreds of thousands of them, and a tuple is several times cheaper to make."""

    id: uuid.UUID | str | None = None  # a canonical uuid stays the (lower-case) text it came as
    isbn: str | None = None
    iscc: str | None = None
    scheme: str | None = None
    value: str | None = None


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _is_isbn13(digits: str) -> bool:
    """13 ASCII digits, a 978/979 prefix and a right check digit (weights 1, 3, 1, 3, …). Summed over the digits'
    ASCII codes: each is 48 + the digit, and 48 × (7 + 3 × 6) = 1200 leaves the sum's last digit as it is."""
    if len(digits) != 13 or not digits.isascii() or not digits.isdigit() or digits[:3] not in ("978", "979"):
        return False
    codes = digits.encode("ascii")
    return (sum(codes[0::2]) + 3 * sum(codes[1::2])) % 10 == 0


def _isbn(text: str) -> str:
    """ISBN-13 digits. The common case, 13 digits (hyphens allowed) with a 978/979 prefix, is checked here (the
    check digit); anything else goes to python-stdnum (ISBN-10, unusual forms, and the error)."""
    digits = text.replace("-", "").replace(" ", "")
    if _is_isbn13(digits):
        return digits
    return normalize_isbn(text)


@lru_cache(maxsize=65536)
def parse_reference(text: str) -> Reference | None:
    """The normalised reference, or None when `text` is not one (cached: a report names the same works often)."""
    if not isinstance(text, str) or len(text) > 300 or "\x00" in text:  # PostgreSQL's text holds no NUL
        return None
    text = text.strip()
    if len(text) == 36:
        lowered = text.lower()
        if _CANONICAL_UUID.fullmatch(lowered):
            return Reference(id=lowered)
    prefix, sep, rest = text.partition(":")
    kind = prefix.lower() if sep else ""
    try:
        if kind == "isbn":
            return Reference(isbn=_isbn(rest.strip()))
        if kind == "iscc":
            return Reference(iscc=normalize_iscc(rest))
        if kind == "ext":
            scheme, sep, value = rest.partition(":")
            if not sep or not scheme or not value:
                return None
            return Reference(scheme=scheme.strip().lower(), value=value.strip())
        return Reference(id=uuid.UUID(text))
    except (ValidationError, ValueError):
        return None


# The references of a clearance go to PostgreSQL as array literals, positions and values per kind, written
# here (~2 ms for 10,000; psycopg's list adapter takes ~50 ms): a literal cast to an array is a constant the planner
# counts, so it plans 6,000 uuids as 6,000 index probes, not as the 100 rows it assumes for a set it cannot see.
def reference_arrays(refs: list[str], offset: int = 0) -> dict[str, str]:
    """Parameters `<kind>_ord` (positions in `refs`, from `offset`) and the values of each kind: `id_value` (uuid),
    `isbn_value`, `iscc_value`, `ext_scheme` and `ext_value` (text). Malformed references are in none."""
    ords: dict[str, list[str]] = {"id": [], "isbn": [], "iscc": [], "ext": []}
    ids, isbns, isccs, schemes, values = [], [], [], [], []
    canonical = _CANONICAL_UUID.fullmatch
    for position, text in enumerate(refs, offset):
        if type(text) is not str:
            continue
        if len(text) == 36 and canonical(text):  # most, as clients write ids: no parsing
            ords["id"].append(str(position))
            ids.append(text)
            continue
        if text[:5] == "isbn:" and len(text) <= 300:  # the next most: an ISBN-13, hyphens or spaces allowed
            digits = text[5:].replace("-", "").replace(" ", "")
            if _is_isbn13(digits):
                ords["isbn"].append(str(position))
                isbns.append(digits)
                continue
        ref = parse_reference(text)
        if ref is None:
            continue
        if ref.id is not None:
            ords["id"].append(str(position))
            ids.append(str(ref.id))  # canonical: hex digits and hyphens, nothing to quote
        elif ref.isbn is not None:
            ords["isbn"].append(str(position))
            isbns.append(ref.isbn)
        elif ref.iscc is not None:
            ords["iscc"].append(str(position))
            isccs.append(ref.iscc)
        else:
            ords["ext"].append(str(position))
            schemes.append(ref.scheme)
            values.append(ref.value)
    arrays = {f"{kind}_ord": "{" + ",".join(positions) + "}" for kind, positions in ords.items()}
    arrays["id_value"] = "{" + ",".join(ids) + "}"
    arrays["isbn_value"] = array_literal(isbns)
    arrays["iscc_value"] = array_literal(isccs)
    arrays["ext_scheme"] = array_literal(schemes)
    arrays["ext_value"] = array_literal(values)
    return arrays


def array_literal(values: list[str]) -> str:
    """A PostgreSQL text[] literal: every element double-quoted, its backslashes and quotes escaped, so commas,
    braces, spaces and the word NULL stay text."""
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"
