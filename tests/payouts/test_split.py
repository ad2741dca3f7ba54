"""The largest-remainder split in SQL (payouts_split_part, payouts/sql/0013_split_part.sql), which the engine calls
for every line of a work with several holders: figures by hand, then against a reference written here in Python."""

from __future__ import annotations

import random

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def parts(amount: int, shares: list[int]) -> list[int]:
    """Each holder's part, by place; `shares` in hundredths of a percent, in tie-breaking order."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT payouts_split_part(%s, %s::bigint[], p) FROM generate_series(1, %s) p ORDER BY p",
            [amount, shares, len(shares)],
        )
        return [row[0] for row in cursor.fetchall()]


def reference(amount: int, shares: list[int]) -> list[int]:
    """RULES.md 3, as written: floors, then one unit each to the largest remainders (ties to the earlier place, the
    larger share and then the lower holder id), on the magnitude; negated for a negative amount."""
    magnitude = abs(amount)
    floors = [magnitude * s // 10000 for s in shares]
    left = magnitude - sum(floors)
    order = sorted(range(len(shares)), key=lambda i: (-(magnitude * shares[i] % 10000), i))
    result = floors[:]
    for i in order[:left]:
        result[i] += 1
    return [-r if amount < 0 else r for r in result]


@pytest.mark.parametrize(
    ("amount", "shares", "expected"),
    [
        # 100 yen in thirds (33.34 / 33.33 / 33.33): 33.34, 33.33, 33.33 → floors 33, 33, 33, one unit left, to the
        # largest remainder (0.34)
        (100, [3334, 3333, 3333], [34, 33, 33]),
        # 101 yen in halves: 50.5 each, equal remainders: the unit to the first place
        (101, [5000, 5000], [51, 50]),
        (-101, [5000, 5000], [-51, -50]),
        # 7 yen at 60 / 40: 4.2 and 2.8 → 4 and 2, the unit to the larger remainder (0.8)
        (7, [6000, 4000], [4, 3]),
        # five holders (the general function): 1,000,003 yen at 30 / 25 / 20 / 15 / 10 → 300,000.9, 250,000.75,
        # 200,000.6, 150,000.45, 100,000.3: floors add up to 1,000,000, the three units left to .9, .75 and .6
        (1_000_003, [3000, 2500, 2000, 1500, 1000], [300_001, 250_001, 200_001, 150_000, 100_000]),
        # six equal sixths of 5 yen (16.66 % ×4, 16.67 % ×2 in tie order: the larger first): 0.8335 ×2, 0.833 ×4
        (5, [1667, 1667, 1666, 1666, 1666, 1666], [1, 1, 1, 1, 1, 0]),
        (0, [5000, 5000], [0, 0]),
        (12345, [10000], [12345]),
    ],
)
def test_split_by_hand(amount, shares, expected):
    assert parts(amount, shares) == expected
    assert sum(expected) == amount


def test_split_matches_the_rule_for_any_number_of_holders():
    """Random amounts (both signs, up to 10^12) and share vectors of 1 to 7 holders that add up to 100.00 %, many
    with equal shares: the SQL parts equal the reference's and add up to the amount."""
    rng = random.Random(20261206)
    cases = []
    for _ in range(400):
        n = rng.randint(1, 7)
        if rng.random() < 0.3:  # equal shares: ties everywhere
            base, extra = divmod(10000, n)
            shares = [base + (1 if i < extra else 0) for i in range(n)]
        else:
            cuts = sorted(rng.sample(range(1, 10000), n - 1))
            shares = sorted((b - a for a, b in zip([0, *cuts], [*cuts, 10000], strict=True)), reverse=True)
        amount = rng.choice([rng.randint(-50, 50), rng.randint(-(10**6), 10**6), rng.randint(-(10**12), 10**12)])
        cases.append((amount, shares))
    for amount, shares in cases:
        got = parts(amount, shares)
        assert got == reference(amount, shares), (amount, shares)
        assert sum(got) == amount
