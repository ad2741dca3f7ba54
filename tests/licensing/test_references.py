"""Work references as clients write them: the fast paths agree with the full parsers."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from licensing.references import Reference, parse_reference, reference_arrays
from licensing.validators import normalize_isbn


def isbn13(body: str) -> str:
    """body: 12 digits → with its check digit."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def isbn_of_arrays(ref: str) -> str | None:
    """The ISBN a clearance sends for `ref` (reference_arrays has a fast path of its own for ISBN-13s)."""
    arrays = reference_arrays([ref])
    assert arrays["id_ord"] == arrays["ext_ord"] == arrays["iscc_ord"] == "{}"
    return arrays["isbn_value"][2:-2] if arrays["isbn_ord"] == "{0}" else None


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
        assert (parsed.isbn if parsed else None) == stdnum_or_none(text) == isbn_of_arrays(f"isbn:{text}")


@pytest.mark.parametrize(
    "text",
    ["4-08-851201-5", "4088512015", " 978-4-08-851201-3 ", "4-08-851201-X", "978 4 08 851201 3", "9784088512014",
     "978-4-08-851201-3\t", "９７８４０８８５１２０１３", "978408851201-3-"],
)  # fmt: skip
def test_isbn_other_forms_agree_with_stdnum(text):
    parsed = parse_reference(f"isbn:{text}")
    assert (parsed.isbn if parsed else None) == stdnum_or_none(text) == isbn_of_arrays(f"isbn:{text}")
    assert parse_reference("isbn: 978-4-08-851201-3 ").isbn == "9784088512013"


def test_uuids_in_any_case_or_form_are_the_same_work():
    value = uuid.uuid4()
    canonical = parse_reference(str(value).upper())
    assert canonical == Reference(id=str(value))
    other = parse_reference(value.hex)  # no hyphens: the slow path, a UUID object
    assert uuid.UUID(str(other.id)) == uuid.UUID(str(canonical.id))
    assert parse_reference(str(value)[:-1] + "g") is None


TRICKY = ["", " ", "a,b", 'say "hi"', "back\\slash", "\\", '\\"', "{a,b}", "}", "NULL", "null", "two  words", " pad ",
          "\t\n", "漫画,第1巻", "'", "%s", "$1", "\U0001f600", "x" * 300]  # fmt: skip


@pytest.mark.django_db
def test_array_literals_read_back_as_the_same_strings():
    """What references.array_literal writes, PostgreSQL reads as exactly the strings it was given."""
    import random

    from django.db import connection

    from licensing.references import array_literal

    rng = random.Random(7)
    alphabet = "ab ,{}\"\\'NUL漫\t"
    lists = [TRICKY, [], [""], ["NULL"]]
    lists += [["".join(rng.choice(alphabet) for _ in range(rng.randrange(8))) for _ in range(20)] for _ in range(30)]
    with connection.cursor() as cursor:
        for values in lists:
            cursor.execute("SELECT %s::text[]", [array_literal(values)])
            assert cursor.fetchone()[0] == values


def test_reference_arrays_sort_references_by_kind_with_their_positions():

    upper = "6F9619FF-8B86-D011-B42D-00C04FC964FF"
    refs = ["6f9619ff-8b86-d011-b42d-00c04fc964ff", f"{{{upper}}}", f"urn:uuid:{upper}", upper.replace("-", ""),
            "isbn:4-08-851124-7", "not a reference", "iscc:kacypxw445ftynj3", "ext:Hikari: S-1 ", 42,
            "ext:x"]  # fmt: skip
    arrays = reference_arrays(refs)
    canonical = upper.lower()
    assert arrays["id_ord"] == "{0,1,2,3}"
    assert arrays["id_value"] == "{" + ",".join([canonical] * 4) + "}"
    assert (arrays["isbn_ord"], arrays["isbn_value"]) == ("{4}", f'{{"{isbn13("978408851124")}"}}')
    assert (arrays["iscc_ord"], arrays["iscc_value"]) == ("{6}", '{"ISCC:KACYPXW445FTYNJ3"}')
    assert (arrays["ext_ord"], arrays["ext_scheme"], arrays["ext_value"]) == ("{7}", '{"hikari"}', '{"S-1"}')


def test_reference_arrays_of_a_part_number_positions_from_its_offset():
    """A clearance in parts reads `refs[offset:]` per part: positions are those of the whole call, the values the
    same as if the part were read alone."""

    refs = ["isbn:4-08-851124-7", "00000000-0000-4000-8000-000000000001", "bad", "ext:a:b", "iscc:kacypxw445ftynj3"]
    whole, part = reference_arrays(refs), reference_arrays(refs[2:], offset=2)
    assert (part["id_ord"], part["isbn_ord"], part["ext_ord"], part["iscc_ord"]) == ("{}", "{}", "{3}", "{4}")
    assert (whole["ext_ord"], whole["iscc_ord"]) == (part["ext_ord"], part["iscc_ord"])
    assert (part["ext_scheme"], part["ext_value"], part["iscc_value"]) == (
        whole["ext_scheme"], whole["ext_value"], whole["iscc_value"]
    )  # fmt: skip
