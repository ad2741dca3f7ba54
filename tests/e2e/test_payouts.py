"""Payouts on the real stack (gunicorn, a Celery worker, Redis, PostgreSQL): a month computed by the worker and
finalized, then finance pays it over HTTP: a batch, its Zengin file read back, the confirmation posted once."""

from __future__ import annotations

import datetime as dt
import time

import requests

from tests.payouts.test_zengin import read_file

from .conftest import insert_usage


def test_finance_pays_a_month_over_http_and_the_books_tie_out(stack):
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from ledger.verification import verify_ledger
    from licensing.roles import FINANCE, role_group
    from licensing.services import api_key_create
    from payouts.models import Statement
    from tests.licensing.factories import LicenseeFactory, RightsHolderFactory, training_agreement, work_with_shares

    bank = {"bank_code": "0005", "branch_code": "123", "account_type": "ordinary"}
    holders = [
        RightsHolderFactory(kind="corporation", account_number=f"{n:07d}", account_holder_kana=f"ｶ)ﾎﾙﾀﾞ-{n}", **bank)
        for n in range(1, 4)
    ]
    works = [work_with_shares((holders[n % 3], "70.00"), (holders[(n + 1) % 3], "30.00")) for n in range(9)]
    licensee = LicenseeFactory()
    agreement = training_agreement(licensee, "E2E-PAY", "3")
    period = dt.date(2026, 10, 1)
    insert_usage(period, licensee, works, [agreement], 3_000, quantities=4)
    user = get_user_model().objects.create_user("e2e-finance", password="pw-e2e-finance-1", is_staff=True)
    user.groups.add(role_group(FINANCE))
    _, key = api_key_create(name="e2e", user=user)
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {key}"
    base = f"{stack.base_url}/api/v1"
    stack.wait_for("/healthz")

    run = api.post(f"{base}/statement-runs", json={"period": "2026-10"}, timeout=30).json()
    deadline = time.monotonic() + 120
    while (state := api.get(f"{base}/statement-runs/{run['id']}", timeout=10).json())["status"] not in (
        "done", "failed"):  # fmt: skip
        assert time.monotonic() < deadline, state
        time.sleep(0.2)
    assert state["status"] == "done", state
    assert api.post(f"{base}/statement-runs/{run['id']}/finalize", timeout=60).status_code == 200
    payable = {str(s.rights_holder_id): s.payable for s in Statement.objects.all()}
    assert len(payable) == 3

    pay_date = timezone.localdate()
    created = api.post(f"{base}/payout-batches", json={"pay_date": pay_date.isoformat(), "currency": "JPY"},
                       timeout=30)  # fmt: skip
    assert created.status_code == 201, created.text
    batch = created.json()
    assert (batch["transfers"], int(batch["total"]["amount"])) == (3, sum(payable.values()))
    file = api.get(f"{base}/payout-batches/{batch['id']}/zengin", timeout=30)
    assert file.status_code == 200, file.text
    parsed = read_file(file.content)
    by_account = {d["account_number"]: int(d["amount"]) for d in parsed["data"]}
    assert by_account == {h.account_number: payable[str(h.pk)] for h in holders}
    assert int(parsed["trailer"]["total"]) == sum(payable.values())
    for _click in range(2):
        confirmed = api.post(f"{base}/payout-batches/{batch['id']}/confirm", timeout=30)
        assert confirmed.status_code == 200, confirmed.text
    assert set(Statement.objects.values_list("status", flat=True)) == {"paid"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ledger_journaltransaction WHERE cause_type = 'payout'")
        assert cursor.fetchone()[0] == 3  # one per transfer, however many clicks
        cursor.execute(
            "SELECT sum(p.amount) FROM ledger_posting p JOIN ledger_account a ON a.id = p.account_id "
            "WHERE a.purpose = 'rights_holder_payable'"
        )
        assert cursor.fetchone()[0] == 0  # every holder paid what it was owed
    assert verify_ledger().sound
