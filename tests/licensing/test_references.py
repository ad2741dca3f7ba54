"""Work references as clients write them: the fast paths agree with the full parsers."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from licensing.references import Reference, parse_reference
from licensing.validators import normalize_isbn


def isbn13(body: str) -> str:
    """body: 12 digits → with its check digit."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def stdnum_or_none(text: str) -> str | None:
    try:
        return normalize_isbn(text)
    except ValidationError:
        return None


@given(st.sampled_from(["978", "979", "977", "123"]), st.from_regex(r"[0-9]{9}", fullmatch=True), st.booleans(),
       st.integers(min_value=0, max_value=9))  # fmt: skip
def test_isbn_fast_path_agrees_with_stdnum(prefix, digits, hyphens, check):
    valid = isbn13(prefix + digits)
    for number in (valid, valid[:-1] + str(check)):
        text = f"{number[:3]}-{number[3]}-{number[4:9]}-{number[9:12]}-{number[12]}" if hyphens else number
        parsed = parse_reference(f"isbn:{text}")
        assert (parsed.isbn if parsed else None) == stdnum_or_none(text)


@pytest.mark.parametrize(
    "text",
    ["4-08-851201-5", "4088512015", " 978-4-08-851201-3 ", "4-08-851201-X", "978 4 08 851201 3", "9784088512014"],
)
def test_isbn_other_forms_agree_with_stdnum(text):
    parsed = parse_reference(f"isbn:{text}")
    assert (parsed.isbn if parsed else None) == stdnum_or_none(text)
    assert parse_reference("isbn: 978-4-08-851201-3 ").isbn == "9784088512013"


def test_uuids_in_any_case_or_form_are_the_same_work():
    value = uuid.uuid4()
    canonical = parse_reference(str(value).upper())
    assert canonical == Reference(id=str(value))
    other = parse_reference(value.hex)  # no hyphens: the slow path, a UUID object
    assert uuid.UUID(str(other.id)) == uuid.UUID(str(canonical.id))
    assert parse_reference(str(value)[:-1] + "g") is None
