from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.money import CurrencyMismatch, Money, MoneyError, allocate


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [("1500", "JPY", 1500), ("12.50", "USD", 1250), ("12.5", "USD", 1250), ("0", "EUR", 0), ("0.001", "KWD", 1)],
)
def test_parse_major_units_into_minor_units(text, currency, minor):
    assert Money.parse(text, currency) == Money(minor, currency)


@pytest.mark.parametrize(
    ("text", "currency"),
    [("12.5", "JPY"), ("1.005", "USD"), ("1,500", "JPY"), ("1e3", "JPY"), ("", "JPY"), (" ", "USD"), ("-5", "JPY"),
     ("NaN", "USD"), ("Infinity", "USD"), ("12.", "USD"), (".5", "USD"), ("1" * 19, "JPY")],
)  # fmt: skip
def test_parse_refuses_what_is_not_exact(text, currency):
    with pytest.raises(MoneyError):
        Money.parse(text, currency)


def test_parse_refuses_non_strings_and_unknown_currencies():
    with pytest.raises(MoneyError):
        Money.parse(12.5, "USD")
    for currency in ("XYZ", "jpy", "JP", "", "¥"):
        with pytest.raises(MoneyError):
            Money.parse("1", currency)


def test_negative_only_when_allowed():
    assert Money.parse("-3.05", "USD", allow_negative=True) == Money(-305, "USD")


def test_formatting():
    assert Money(1500, "JPY").to_string() == "1500"
    assert Money(1250, "USD").to_string() == "12.50"
    assert Money(-305, "USD").to_string() == "-3.05"
    assert Money(5, "USD").to_string() == "0.05"
    assert Money(1500, "JPY").as_dict() == {"amount": "1500", "currency": "JPY"}
    assert Money(1234567, "JPY").format("ja_JP") == "￥1,234,567"
    assert Money(1250, "USD").format("en_US") == "$12.50"


def test_amount_must_be_an_int_not_a_float_or_bool():
    for bad in (12.5, Decimal("12"), True, "12"):
        with pytest.raises(MoneyError):
            Money(bad, "JPY")


def test_arithmetic_refuses_mixed_currencies():
    jpy, usd = Money(100, "JPY"), Money(100, "USD")
    assert jpy + Money(50, "JPY") == Money(150, "JPY")
    assert jpy - Money(150, "JPY") == Money(-50, "JPY")
    assert -jpy == Money(-100, "JPY")
    assert jpy * 3 == Money(300, "JPY")
    for operation in (lambda: jpy + usd, lambda: jpy - usd, lambda: jpy < usd, lambda: jpy >= usd):
        with pytest.raises(CurrencyMismatch):
            operation()
    with pytest.raises(TypeError):
        jpy * 1.5
    with pytest.raises(TypeError):
        jpy + 1


def test_from_decimal_rounds_half_up_once():
    assert Money.from_decimal(Decimal("0.5"), "JPY") == Money(1, "JPY")
    assert Money.from_decimal(Decimal("1.4999"), "JPY") == Money(1, "JPY")
    assert Money.from_decimal(Decimal("2.345"), "USD") == Money(235, "USD")
    assert Money.floor(Decimal("102100.99"), "JPY") == Money(102100, "JPY")


def test_allocate_by_largest_remainder():
    # 100 among 3 equal shares: 33.33 each, one unit left; ties go to the lowest key
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert allocate(100, [1, 1, 1], order=["c", "a", "b"]) == [33, 34, 33]
    # ties in remainder go to the larger share first
    assert allocate(10, [Decimal("25"), Decimal("25"), Decimal("50")]) == [3, 2, 5]
    assert allocate(1, [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]) == [0, 0, 1]
    assert allocate(-100, [1, 1, 1]) == [-34, -33, -33]
    assert allocate(0, [1, 2]) == [0, 0]
    assert allocate(7, [0, 1]) == [0, 7]


def test_allocate_refuses_bad_weights():
    for weights in ([], [0, 0], [1, -1]):
        with pytest.raises(MoneyError):
            allocate(10, weights)


@given(
    total=st.integers(min_value=-(10**15), max_value=10**15),
    weights=st.lists(
        st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=12,
    ).filter(lambda ws: sum(ws) > 0),
)
def test_allocate_always_sums_exactly_and_each_part_is_within_one_unit_of_its_quota(total, weights):
    parts = allocate(total, weights)
    assert sum(parts) == total
    weight_sum = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        quota = Decimal(abs(total)) * weight / weight_sum
        assert abs(Decimal(abs(part)) - quota) < 1
        assert (part >= 0) if total >= 0 else (part <= 0)
