"""Work references as clients write them (API.md): `<uuid>` · `isbn:…` · `iscc:…` · `ext:<scheme>:<value>`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import lru_cache

from django.core.exceptions import ValidationError

from .validators import normalize_isbn, normalize_iscc


@dataclass(frozen=True, slots=True)
class Reference:
    id: uuid.UUID | None = None
    isbn: str | None = None
    iscc: str | None = None
    scheme: str | None = None
    value: str | None = None


@lru_cache(maxsize=65536)
def parse_reference(text: str) -> Reference | None:
    """The normalised reference, or None when `text` is not one (cached: a report names the same works often)."""
    if not isinstance(text, str) or len(text) > 300:
        return None
    text = text.strip()
    prefix, sep, rest = text.partition(":")
    kind = prefix.lower() if sep else ""
    try:
        if kind == "isbn":
            return Reference(isbn=normalize_isbn(rest))
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


RESOLVE_SQL = """
SELECT r.ord::integer AS ord, coalesce(w1.id, w2.id, w3.id, x.work_id) AS work_id
  FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::text[])
       WITH ORDINALITY AS r(id, isbn, iscc, scheme, value, ord)
  LEFT JOIN licensing_work w1 ON w1.id = r.id
  LEFT JOIN licensing_work w2 ON w2.isbn = r.isbn
  LEFT JOIN licensing_work w3 ON w3.iscc = r.iscc
  LEFT JOIN licensing_workidentifier x ON x.scheme = r.scheme AND x.value = r.value
"""


def reference_arrays(refs: list[Reference | None]) -> list[list]:
    """The five parallel arrays RESOLVE_SQL unnests (None where a reference is of another kind or malformed)."""
    return [
        [ref.id if ref else None for ref in refs],
        [ref.isbn if ref else None for ref in refs],
        [ref.iscc if ref else None for ref in refs],
        [ref.scheme if ref else None for ref in refs],
        [ref.value if ref else None for ref in refs],
    ]
