"""The largest-remainder split in SQL (payouts_split_part, payouts/sql/0013_split_part.sql), which the engine calls
for every line of a work with several holders: figures by hand, then against a reference written here in Python."""

from __future__ import annotations

import random

import pytest
from django.db import connection

from payouts.engine import statement_run_compute
from payouts.models import StatementLine, StatementRun
from tests.licensing.factories import LicenseeFactory, RightsHolderFactory, training_agreement, work_with_shares
from tests.payouts.test_engine import OCTOBER, usage

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
        # 5 yen in sixths (16.67 % ×4, 16.66 % ×2, the larger first): 0.8335 ×4, 0.833 ×2 → floors 0, five units to
        # the four largest remainders, then to the earlier of the two equal ones
        (5, [1667, 1667, 1667, 1667, 1666, 1666], [1, 1, 1, 1, 1, 0]),
        # 25 yen among thirteen holders (7.72 % and twelve of 7.69 %; more than twelve: the general function):
        # 1.93 and 1.9225 ×12 → floors 13, twelve units left: 7.72 % first, then eleven of the twelve equal ones
        (25, [772, *[769] * 12], [2, *[2] * 11, 1]),
        (0, [5000, 5000], [0, 0]),
        (12345, [10000], [12345]),
    ],
)
def test_split_by_hand(amount, shares, expected):
    assert parts(amount, shares) == expected
    assert sum(expected) == amount


def test_split_matches_the_rule_for_any_number_of_holders():
    """Random amounts (both signs, up to 10^12) and share vectors of 1 to 15 holders (each of the function's three
    forms: up to 4, up to 12, more) that add up to 100.00 %, many with equal shares: the SQL parts equal the
    reference's and add up to the amount."""
    rng = random.Random(20261206)
    cases = []
    for _ in range(600):
        n = rng.choice([rng.randint(1, 4), rng.randint(5, 12), rng.randint(13, 15)])
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


# Through the engine: the order that breaks ties (the larger share, then the lower rights-holder id) is the engine's
# (SHARES), not the function's.


@pytest.fixture
def agreement():
    return training_agreement(LicenseeFactory(), "AGR-SPLIT", "12.5")


def train(agreement, work, quantity: int) -> None:
    usage(
        {"licensee": agreement.licensee, "work": work, "agreement": agreement},
        OCTOBER,
        ("training", quantity, "m1", None),
    )


def parts_of(work) -> dict:
    """rights holder id → (gross, commission) of the work's line"""
    return {
        line.statement.rights_holder_id: (line.gross, line.commission)
        for line in StatementLine.objects.filter(work=work, period=OCTOBER).select_related("statement")
    }


def test_the_engine_breaks_ties_by_the_larger_share_then_the_lower_holder_id(agreement):
    # halves: 1 × 12.5 = 12.5 → 13, commission 1.3 → 1; 6.5 and 0.5 each, equal remainders: the lower id takes the unit
    halves = sorted((RightsHolderFactory(), RightsHolderFactory()), key=lambda h: str(h.pk))
    pair = work_with_shares((halves[1], "50.00"), (halves[0], "50.00"))
    # six holders, 20 / 20 / 15 / 15 / 15 / 15: 3 × 12.5 = 37.5 → 38, commission 3.8 → 4.
    # gross: 7.6 ×2 and 5.7 ×4 → floors 34, four units to the larger remainders (.7, the 15 % holders) → 7, 7, 6 ×4;
    # commission: 0.8 ×2 and 0.6 ×4 → floors 0, four units: the 20 % holders, then the two lower ids of the 15 % ones
    six = sorted((RightsHolderFactory() for _ in range(6)), key=lambda h: str(h.pk))
    big, small = [six[4], six[1]], [six[5], six[0], six[3], six[2]]  # given in no particular order
    committee = work_with_shares(*[(h, "20.00") for h in big], *[(h, "15.00") for h in small])
    train(agreement, pair, 1)
    train(agreement, committee, 3)
    statement_run_compute(run=StatementRun.objects.create(period=OCTOBER))

    assert parts_of(pair) == {halves[0].pk: (7, 1), halves[1].pk: (6, 0)}
    small_by_id = sorted(small, key=lambda h: str(h.pk))
    assert parts_of(committee) == {
        big[0].pk: (7, 1), big[1].pk: (7, 1),
        small_by_id[0].pk: (6, 1), small_by_id[1].pk: (6, 1), small_by_id[2].pk: (6, 0), small_by_id[3].pk: (6, 0),
    }  # fmt: skip
