# ruff: noqa: F811  (pytest fixtures imported from test_engine are redefined as parameters)
"""Payout batches (issue 7): gathering due statements, blocked holders, the Zengin file read back by the test's own
reader, confirmation posted once, returned transfers reversed exactly, PostgreSQL's guards, roles and the audit."""

from __future__ import annotations

import datetime as dt
import io
import uuid
import zipfile

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from ledger.models import JournalTransaction
from ledger.verification import verify_ledger
from licensing.roles import FINANCE, role_group
from payouts import batches
from payouts.models import PayoutBatch, PayoutEvent, PayoutItem, Statement
from payouts.services import statement_run_finalize
from tests.licensing.factories import holder_user

from .test_api import client_for
from .test_engine import NOVEMBER, OCTOBER, balances, october_usage, run, usage, world  # noqa: F401
from .test_zengin import read_file

pytestmark = pytest.mark.django_db

REQUESTER = {"code": "1234567890", "name": "ｶ)ﾗｲﾂﾚｼﾞﾔ-", "bank_code": "0001", "bank_name": "ﾐｽﾞﾎ",
             "branch_code": "001", "branch_name": "ﾄｳｷﾖｳ", "account_type": "ordinary",
             "account_number": "7654321"}  # fmt: skip


def pay_day() -> dt.date:
    """Today: a batch is confirmed once its pay date has come."""
    return timezone.localdate()


@pytest.fixture(autouse=True)
def requester(settings):
    settings.ZENGIN_REQUESTER = dict(REQUESTER)


@pytest.fixture
def finance_user(db):
    user = get_user_model().objects.create_user("finance", "finance@example.com", "pw-finance-123", is_staff=True)
    user.groups.add(role_group(FINANCE))
    return user


@pytest.fixture
def finance(finance_user):
    return client_for(user=finance_user)


def bank(holder, kana: str, number: str = "1234567") -> None:
    holder.bank_code, holder.branch_code, holder.account_type = "0005", "123", "ordinary"
    holder.account_number, holder.account_holder_kana = number, kana
    holder.save()


@pytest.fixture
def two_final_months(world):
    """October as in test_engine (A 2,353 payable, withholding 267; B 1,729, no bank account; C 835 carried), then
    November: 100 training units × 12.5 = 1,250, commission 125 (62.5 / 37.5 / 25: the 1 left goes to the larger
    share, A): A 625 − 63 = 562, withholding floor(57.38) = 57, payable 505; C 250 − 25 = 225, non-resident
    withholding floor(45.945) = 45, payable 225 − 45 + 835 carried = 1,015 ≥ its 1,000 minimum: due."""
    bank(world["a"], "ｴ- ﾀﾛｳ", "1111111")
    bank(world["c"], "ｼ- ﾊﾅｺ", "3333333")
    october_usage(world)
    statement_run_finalize(run=run(OCTOBER))
    usage(world, NOVEMBER, ("training", 100, "m1", None))
    statement_run_finalize(run=run(NOVEMBER))
    s = {(st.rights_holder.name, st.period): st for st in Statement.objects.select_related("rights_holder")}
    assert (s["A", OCTOBER].payable, s["A", NOVEMBER].payable, s["A", NOVEMBER].withholding_tax) == (2353, 505, 57)
    assert (s["C", NOVEMBER].payable, s["C", NOVEMBER].withholding_tax, s["C", NOVEMBER].carried_out) == (
        1015, 45, False)  # fmt: skip
    assert s["C", OCTOBER].carried_out
    return s


def test_a_batch_gathers_the_due_statements_lists_blocked_holders_and_its_zengin_file_reads_back(
    world,
    two_final_months,
    finance,
):
    response = finance.post("/api/v1/payout-batches", {"pay_date": pay_day().isoformat(), "currency": "JPY"},
                            format="json")  # fmt: skip
    assert response.status_code == 201, response.content
    batch = response.json()
    items = {(i["rights_holder"], i["period"]): i for i in batch["items"]}
    a, b, c = str(world["a"].pk), str(world["b"].pk), str(world["c"].pk)
    # A's two months and C's November (with October's 214 withheld, carried into it); C's October is not an item
    assert {key: (i["status"], i["amount"]["amount"], i["withholding_tax"]["amount"]) for key, i in items.items()} == {
        (a, "2026-10"): ("included", "2353", "267"),
        (a, "2026-11"): ("included", "505", "57"),
        (c, "2026-11"): ("included", "1015", str(45 + 214)),
        (b, "2026-10"): ("blocked", "1729", "0"),
        (b, "2026-11"): ("blocked", str(two_final_months["B", NOVEMBER].payable), "0"),
    }
    assert "No bank account" in items[b, "2026-10"]["blocked_reason"]
    assert (batch["transfers"], batch["total"]["amount"], batch["blocked"]) == (3, str(2353 + 505 + 1015), 2)

    file = finance.get(f"/api/v1/payout-batches/{batch['id']}/zengin")
    assert file.status_code == 200, file.content
    assert file["Content-Type"].startswith("text/plain")
    parsed = read_file(file.content)  # the test's own reader, by the byte offsets of RULES.md
    header = parsed["header"]
    assert (header["type_code"], header["requester_code"], header["bank_code"], header["account_number"]) == (
        "21", "1234567890", "0001", "7654321")  # fmt: skip
    assert header["date"] == pay_day().strftime("%m%d")
    payees = sorted((d["name"].rstrip(), d["account_number"], int(d["amount"])) for d in parsed["data"])
    assert payees == [("ｴ- ﾀﾛｳ", "1111111", 505), ("ｴ- ﾀﾛｳ", "1111111", 2353), ("ｼ- ﾊﾅｺ", "3333333", 1015)]
    assert {d["bank_code"] + d["branch_code"] + d["account_type"] for d in parsed["data"]} == {"00051231"}
    assert (int(parsed["trailer"]["count"]), int(parsed["trailer"]["total"])) == (3, 3873)
    assert PayoutBatch.objects.get().status == "exported"


def test_confirming_posts_each_payment_once_and_the_statements_are_paid(world, two_final_months, finance):
    batch = batches.payout_batch_create(currency="JPY", pay_date=pay_day())
    refused = finance.post(f"/api/v1/payout-batches/{batch.pk}/confirm")
    assert refused.status_code == 409  # not exported yet
    assert finance.get(f"/api/v1/payout-batches/{batch.pk}/zengin").status_code == 200
    before = balances()
    posted = JournalTransaction.objects.count()
    assert finance.post(f"/api/v1/payout-batches/{batch.pk}/confirm").status_code == 200
    assert JournalTransaction.objects.count() == posted + 3  # one per transfer
    for _again in range(2):  # a second click, a retried request
        assert finance.post(f"/api/v1/payout-batches/{batch.pk}/confirm").status_code == 200
    batches.payout_batch_confirm(batch=PayoutBatch.objects.get(pk=batch.pk))
    assert JournalTransaction.objects.count() == posted + 3
    after = balances()
    a, b, c = world["a"].pk, world["b"].pk, world["c"].pk
    assert after[("rights_holder_payable", a)] == 0 == after[("rights_holder_payable", c)]
    assert after[("rights_holder_payable", b)] == before[("rights_holder_payable", b)]  # blocked: still owed
    assert after[("bank", None)] == -(2353 + 505 + 1015)
    # every withholding of the paid statements, C's carried October included, is now owed to the tax office
    assert after[("withholding_tax_payable", None)] == -(267 + 57 + 214 + 45)
    assert after[("withholding_tax_accrued", None)] == before[("withholding_tax_accrued", None)] + 267 + 57 + 214 + 45
    assert after[("withholding_tax_accrued", None)] == 0  # B is a corporation: nothing withheld from it
    statuses = {(s.rights_holder.name, s.period): (s.status, s.payout_id is not None)
                for s in Statement.objects.select_related("rights_holder")}  # fmt: skip
    assert statuses[("C", OCTOBER)] == ("paid", True)  # carried into the November transfer, paid by it
    assert statuses[("A", OCTOBER)] == statuses[("A", NOVEMBER)] == statuses[("C", NOVEMBER)] == ("paid", True)
    assert statuses[("B", OCTOBER)] == ("final", False)
    c_october = two_final_months["C", OCTOBER]
    shown = finance.get(f"/api/v1/statements/{c_october.pk}").json()
    assert (shown["status"], shown["payout"]) == ("paid", str(PayoutItem.objects.get(rights_holder=world["c"]).pk))
    assert verify_ledger().sound
    kinds = list(PayoutEvent.objects.filter(batch=batch).values_list("kind", "actor__username"))
    assert kinds == [("created", None), ("exported", "finance"), ("confirmed", "finance")]
    # nothing is due any more but B's blocked statements: no batch of nothing to transfer, the reason said
    with pytest.raises(batches.PayoutRefused, match="No bank account"):
        batches.payout_batch_create(currency="JPY", pay_date=pay_day())


def test_a_returned_transfer_is_reversed_exactly_and_its_statements_can_be_paid_again(
    world,
    two_final_months,
    finance,
):
    batch = batches.payout_batch_create(currency="JPY", pay_date=pay_day())
    batches.payout_batch_export(batch=batch)
    before = balances()
    batches.payout_batch_confirm(batch=batch)
    item = PayoutItem.objects.get(batch=batch, rights_holder=world["c"])
    early = {"reason": "口座解約済み", "returned_on": (pay_day() - dt.timedelta(days=1)).isoformat()}
    assert finance.post(f"/api/v1/payouts/{item.pk}/return", early, format="json").status_code == 400
    body = {"reason": "口座解約済み", "returned_on": pay_day().isoformat()}
    response = finance.post(f"/api/v1/payouts/{item.pk}/return", body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "returned"
    after = balances()
    c = world["c"].pk
    assert after[("rights_holder_payable", c)] == before[("rights_holder_payable", c)] == -1015
    assert after[("withholding_tax_accrued", None)] == -(214 + 45)  # C's withholding is accrued again
    assert after[("withholding_tax_payable", None)] == -(267 + 57)
    assert after[("bank", None)] == -(2353 + 505)
    reversal = JournalTransaction.objects.get(idempotency_key=f"payouts:return:{item.pk}")
    assert reversal.reverses.idempotency_key == f"payouts:payout:{item.pk}"
    assert set(Statement.objects.filter(rights_holder=world["c"]).values_list("status", flat=True)) == {"final"}
    posted = JournalTransaction.objects.count()
    again = finance.post(f"/api/v1/payouts/{item.pk}/return", body, format="json")
    assert again.status_code == 200
    assert JournalTransaction.objects.count() == posted  # recorded once
    a_item = PayoutItem.objects.filter(batch=batch, rights_holder=world["a"]).first()
    bad = finance.post(f"/api/v1/payouts/{a_item.pk}/return", {"reason": " "}, format="json")
    assert bad.status_code == 400
    # C fixes nothing yet, but its November statement is due again, with both withholdings
    new = batches.payout_batch_create(currency="JPY", pay_date=pay_day())
    retry = new.items.get(rights_holder=world["c"])
    assert (retry.status, retry.amount, retry.withholding_tax) == ("included", 1015, 259)
    assert verify_ledger().sound
    assert PayoutEvent.objects.filter(kind="returned", item=item).count() == 1


def test_a_name_a_zengin_file_cannot_carry_is_refused_before_export(world, two_final_months, finance):
    world["c"].account_holder_kana = "ｼ- 𠮷子"  # 𠮷 is outside cp932
    world["c"].save()
    batch = batches.payout_batch_create(currency="JPY", pay_date=pay_day())
    item = batch.items.get(rights_holder=world["c"])
    assert item.status == "blocked"
    assert "𠮷" in item.blocked_reason
    parsed = read_file(finance.get(f"/api/v1/payout-batches/{batch.pk}/zengin").content)
    assert sorted(int(d["amount"]) for d in parsed["data"]) == [505, 2353]  # C is not in the file


def test_an_export_that_cannot_be_made_lists_every_problem_and_changes_nothing(
    world,
    two_final_months,
    finance,
    settings,
):
    settings.ZENGIN_REQUESTER = {**REQUESTER, "code": "12345678901", "name": "𠮷"}
    batch = batches.payout_batch_create(currency="JPY", pay_date=pay_day())
    response = finance.get(f"/api/v1/payout-batches/{batch.pk}/zengin")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    messages = " ".join(e["message"] for e in response.json()["errors"])
    assert "𠮷" in messages
    assert "requester code" in messages.lower()
    assert PayoutBatch.objects.get(pk=batch.pk).status == "draft"
    assert not PayoutEvent.objects.filter(kind="exported").exists()
    settings.ZENGIN_REQUESTER = {}
    missing = finance.get(f"/api/v1/payout-batches/{batch.pk}/zengin")
    assert missing.status_code == 400
    assert "ZENGIN_REQUESTER" in missing.content.decode()


def test_ten_thousand_payees_make_two_files_in_a_zip(finance):
    """10,000 holders with a bank account and a final statement each (written in SQL: the batch is the subject)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH run AS (INSERT INTO payouts_statementrun (id, period, status, agreements_total, agreements_done,
                                                           lines_written, usage_mark, unallocated, error, created_at)
                         VALUES (gen_random_uuid(), '2026-10-01', 'done', 0, 0, 0, 0, '{}', '', now()) RETURNING id),
                 h AS (INSERT INTO licensing_rightsholder (id, name, name_kana, kind, country, resident, email,
                                                          postal_code, address, bank_code, branch_code, account_type,
                                                          account_number, account_holder_kana, minimum_payout_amount,
                                                          minimum_payout_currency, created_at, updated_at)
                       SELECT gen_random_uuid(), 'holder ' || n, 'ﾎﾙﾀﾞ-', 'corporation', 'JP', true, '', '', '',
                              '0005', '123', 'ordinary', lpad(n::text, 7, '0'), 'ﾎﾙﾀﾞ- ' || n, 0, 'JPY', now(), now()
                         FROM generate_series(1, 10000) n RETURNING id, account_number)
            INSERT INTO payouts_statement (id, run_id, rights_holder_id, period, currency, status, gross, commission,
                                           net_royalties, consumption_tax, withholding_tax, carried_forward, payable,
                                           carried_out, registration_number, finalized_at)
            SELECT gen_random_uuid(), run.id, h.id, '2026-10-01', 'JPY', 'final', h.account_number::int,
                   0, h.account_number::int, 0, 0, 0, h.account_number::int, false, '', now()
              FROM h, run
            """
        )
    batch = batches.payout_batch_create(currency="JPY", pay_date=pay_day())
    assert (batch.transfers, batch.total, batch.blocked) == (10000, 10000 * 10001 // 2, 0)
    response = finance.get(f"/api/v1/payout-batches/{batch.pk}/zengin")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        files = [read_file(archive.read(name)) for name in sorted(archive.namelist())]
    assert [len(f["data"]) for f in files] == [9999, 1]
    assert [int(f["trailer"]["count"]) for f in files] == [9999, 1]
    amounts = sorted(int(d["amount"]) for f in files for d in f["data"])
    assert amounts == list(range(1, 10001))
    assert sum(int(f["trailer"]["total"]) for f in files) == 10000 * 10001 // 2
    assert finance.post(f"/api/v1/payout-batches/{batch.pk}/confirm").status_code == 200
    assert JournalTransaction.objects.filter(cause_type="payout").count() == 10000
    assert Statement.objects.filter(status="paid").count() == 10000


def test_a_statement_is_in_at_most_one_open_batch_and_items_are_guarded_by_postgresql(
    world,
    two_final_months,
):
    batch = batches.payout_batch_create(currency="JPY", pay_date=pay_day())
    with pytest.raises(batches.PayoutRefused):
        batches.payout_batch_create(currency="JPY", pay_date=pay_day())  # A's and C's are held, B's blocked only
    item = batch.items.filter(status="included").first()
    other = PayoutBatch.objects.create(currency="JPY", pay_date=pay_day())

    def raw(sql, params):
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)

    insert = ("INSERT INTO payouts_payoutitem (batch_id, statement_id, rights_holder_id, currency, status, amount, "
              "withholding_tax, blocked_reason, bank_code, branch_code, account_type, account_number, "
              "account_holder_kana, returned_reason) VALUES (%s, %s, %s, %s, 'included', %s, 0, '', '', '', '', '', "
              "'', '')")  # fmt: skip
    statement = item.statement
    # the same statement in a second open batch
    raw(insert, [other.pk, statement.pk, statement.rights_holder_id, "JPY", statement.payable])
    # a statement still a draft / carried forward / paid to another holder / another amount / another currency
    c_october = two_final_months["C", OCTOBER]
    raw(insert, [other.pk, c_october.pk, c_october.rights_holder_id, "JPY", c_october.payable])
    b = two_final_months["B", OCTOBER]
    raw(insert, [other.pk, b.pk, world["a"].pk, "JPY", b.payable])
    raw(insert, [other.pk, b.pk, b.rights_holder_id, "JPY", b.payable + 1])
    usd = PayoutBatch.objects.create(currency="USD", pay_date=pay_day())
    raw(insert, [usd.pk, b.pk, b.rights_holder_id, "USD", b.payable])
    # what an item pays is fixed; a closed item stays closed; the audit history is append-only
    raw("UPDATE payouts_payoutitem SET amount = amount + 1 WHERE id = %s", [item.pk])
    blocked = batch.items.filter(status="blocked").first()
    raw("UPDATE payouts_payoutitem SET status = 'included', blocked_reason = '' WHERE id = %s", [blocked.pk])
    event = PayoutEvent.objects.filter(batch=batch).first()
    raw("UPDATE payouts_payoutevent SET detail = '{}' WHERE id = %s", [event.pk])
    raw("DELETE FROM payouts_payoutevent WHERE id = %s", [event.pk])
    # a cancelled batch releases its statements
    batches.payout_batch_cancel(batch=batch)
    assert batches.payout_batch_create(currency="JPY", pay_date=pay_day()).transfers == 3


def test_only_finance_creates_exports_and_confirms(world, two_final_months, staff_user, finance):
    staff = client_for(user=staff_user)
    body = {"pay_date": pay_day().isoformat(), "currency": "JPY"}
    assert staff.post("/api/v1/payout-batches", body, format="json").status_code == 403
    holder = client_for(user=holder_user(world["a"], "holder-a"))
    assert holder.post("/api/v1/payout-batches", body, format="json").status_code == 403
    created = finance.post("/api/v1/payout-batches", body, format="json").json()
    assert staff.get(f"/api/v1/payout-batches/{created['id']}").status_code == 200  # staff read
    assert staff.get(f"/api/v1/payout-batches/{created['id']}/zengin").status_code == 403
    assert staff.post(f"/api/v1/payout-batches/{created['id']}/confirm").status_code == 403
    assert holder.get(f"/api/v1/payout-batches/{created['id']}").status_code == 403
    assert client_for(licensee=world["licensee"]).get("/api/v1/payouts").status_code == 403
    mine = holder.get("/api/v1/payouts").json()["results"]
    assert {i["rights_holder"] for i in mine} == {str(world["a"].pk)}
    assert len(mine) == 2
    blocked = finance.get(f"/api/v1/payouts?batch={created['id']}&status=blocked").json()["results"]
    assert {i["rights_holder"] for i in blocked} == {str(world["b"].pk)}
    assert finance.get("/api/v1/payouts?batch=nope").status_code == 400
    assert finance.get("/api/v1/payouts?status=lost").status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {"pay_date": "2020-01-01", "currency": "JPY"},
        {"pay_date": "someday", "currency": "JPY"},
        {"pay_date": "2026-12-01", "currency": "yen"},
        {"currency": "JPY"},
        [],
    ],
)
def test_bad_batch_input_is_a_400(finance, body):
    response = finance.post("/api/v1/payout-batches", body, format="json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/problem+json")


def test_nothing_due_is_a_409_and_unknown_batches_are_404(finance):
    body = {"pay_date": pay_day().isoformat(), "currency": "JPY"}
    assert finance.post("/api/v1/payout-batches", body, format="json").status_code == 409
    assert finance.get(f"/api/v1/payout-batches/{uuid.uuid4()}").status_code == 404
    assert finance.get("/api/v1/payout-batches/nope/zengin").status_code == 404
    assert finance.post("/api/v1/payouts/99999999999999999999/return", {"reason": "x"}).status_code == 404


def test_a_batch_in_another_currency_exports_a_csv_transfer_list(world, finance):
    bank(world["a"], "ｴ- ﾀﾛｳ")
    run_row = run(OCTOBER)  # no usage: empty, only to own the statement below
    Statement.objects.create(run=run_row, rights_holder=world["a"], period=OCTOBER, currency="USD", status="final",
                             gross=12345, net_royalties=12345, payable=12345, finalized_at=timezone.now())  # fmt: skip
    batch = batches.payout_batch_create(currency="USD", pay_date=pay_day())
    assert finance.get(f"/api/v1/payout-batches/{batch.pk}/zengin").status_code == 409
    response = finance.get(f"/api/v1/payout-batches/{batch.pk}/transfer-list.csv")
    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    assert "123.45,USD" in text
    assert "ｴ- ﾀﾛｳ" in text


# the admin ----------------------------------------------------------------------------------------------------------
def test_finance_pays_from_the_admin_and_records_a_return(world, two_final_months, finance_user, client):
    client.force_login(finance_user)
    bad = client.post("/admin/payouts/payoutbatch/add/", {"pay_date": "2020-01-01", "currency": "JPY"})
    assert bad.status_code == 200  # the form again, with the error
    assert "in the past" in bad.content.decode()
    assert not PayoutBatch.objects.exists()
    added = client.post("/admin/payouts/payoutbatch/add/", {"pay_date": pay_day().isoformat(), "currency": "JPY"})
    assert added.status_code == 302, added.content.decode()[:2000]
    batch = PayoutBatch.objects.get()
    assert (batch.transfers, batch.blocked) == (3, 2)
    page = client.get(f"/admin/payouts/payoutbatch/{batch.pk}/change/").content.decode()
    assert "No bank account" in page  # the blocked holders, with the reason
    transfers = client.get(f"/admin/payouts/payoutitem/?batch__id__exact={batch.pk}")
    assert transfers.status_code == 200
    assert "2,353" in transfers.content.decode()
    changelist = "/admin/payouts/payoutbatch/"
    file = client.post(changelist, {"action": "download_file", "_selected_action": [batch.pk]})
    assert file.status_code == 200
    assert int(read_file(file.content)["trailer"]["total"]) == 3873
    client.post(changelist, {"action": "confirm", "_selected_action": [batch.pk]})
    batch.refresh_from_db()
    assert batch.status == "confirmed"
    item = batch.items.get(rights_holder=world["c"])
    items = "/admin/payouts/payoutitem/"
    form = client.post(items, {"action": "record_return", "_selected_action": [item.pk]})
    assert form.status_code == 200
    assert "reason" in form.content.decode()
    client.post(items, {"action": "record_return", "_selected_action": [item.pk], "apply": "1", "reason": "口座なし",
                        "returned_on": pay_day().isoformat()})  # fmt: skip
    item.refresh_from_db()
    assert (item.status, item.returned_reason) == ("returned", "口座なし")
    history = client.get("/admin/payouts/payoutevent/").content.decode()
    assert "finance" in history
    assert [e.kind for e in PayoutEvent.objects.order_by("id")] == ["created", "exported", "confirmed", "returned"]


def test_in_the_admin_staff_only_read_batches_and_a_holder_sees_its_own_transfers(
    world, two_final_months, staff_user, client
):
    batch = batches.payout_batch_create(currency="JPY", pay_date=pay_day())
    client.force_login(staff_user)
    assert client.get("/admin/payouts/payoutbatch/add/").status_code == 403
    assert client.get(f"/admin/payouts/payoutbatch/{batch.pk}/change/").status_code == 200
    client.post("/admin/payouts/payoutbatch/", {"action": "confirm", "_selected_action": [batch.pk]})
    batch.refresh_from_db()
    assert batch.status == "draft"  # the action is not offered to staff
    client.force_login(holder_user(world["a"], "holder-a"))
    listing = client.get("/admin/payouts/payoutitem/").content.decode()
    assert "2,353" in listing or "2353" in listing
    assert "1,015" not in listing  # C's transfer
    assert client.get("/admin/payouts/payoutbatch/").status_code == 403


def test_a_transfer_pays_the_statements_carried_into_it_and_no_earlier_ones(world):
    """X: July and August carried forward, September due: one transfer pays all three, with their withholding.
    Y (minimum 0): July's negative payable carried into August, whose payable 0 is neither carried nor paid; September
    is due on its own: its transfer must not sweep July in (its amount went into August's, not September's)."""
    from tests.licensing.factories import RightsHolderFactory

    holders = {name: RightsHolderFactory(name=name, kind="individual") for name in "XY"}
    for holder in holders.values():
        bank(holder, f"ﾃｽﾄ {holder.name}")
    owner = run(OCTOBER)
    now = timezone.now()

    def statement(holder, month, net, withholding, carried_forward, carried_out):
        payable = net - withholding + carried_forward
        return Statement.objects.create(
            run=owner, rights_holder=holders[holder], period=dt.date(2026, month, 1), currency="JPY", status="final",
            gross=net, net_royalties=net, withholding_tax=withholding, carried_forward=carried_forward,
            payable=payable, carried_out=carried_out, finalized_at=now,
        )  # fmt: skip

    x7 = statement("X", 7, 307, 7, 0, True)  # 300 carried
    x8 = statement("X", 8, 308, 8, 300, True)  # 600 carried
    x9 = statement("X", 9, 509, 9, 600, False)  # 1,100 due
    y7 = statement("Y", 7, -100, 0, 0, True)  # −100 carried
    y8 = statement("Y", 8, 100, 0, -100, False)  # 0: nothing to pay
    y9 = statement("Y", 9, 511, 11, 0, False)  # 500 due
    batch = batches.payout_batch_create(currency="JPY", pay_date=pay_day())
    items = {i.rights_holder.name: i for i in batch.items.select_related("rights_holder")}
    assert (items["X"].amount, items["X"].withholding_tax) == (1100, 7 + 8 + 9)
    assert (items["Y"].amount, items["Y"].withholding_tax) == (500, 11)
    assert set(items) == {"X", "Y"}  # Y's August (payable 0) is no transfer
    batches.payout_batch_export(batch=batch)
    batches.payout_batch_confirm(batch=batch)
    status = {s.pk: (s.status, s.payout_id) for s in Statement.objects.all()}
    assert status[x7.pk] == status[x8.pk] == status[x9.pk] == ("paid", items["X"].pk)
    assert status[y9.pk] == ("paid", items["Y"].pk)
    assert status[y7.pk] == status[y8.pk] == ("final", None)


def test_an_exported_batch_is_cancelled_only_with_the_word_that_its_file_was_not_sent(world, two_final_months, finance):
    batch = batches.payout_batch_create(currency="JPY", pay_date=pay_day())
    assert finance.get(f"/api/v1/payout-batches/{batch.pk}/zengin").status_code == 200
    refused = finance.post(f"/api/v1/payout-batches/{batch.pk}/cancel", {}, format="json")
    assert refused.status_code == 400
    assert {e["field"] for e in refused.json()["errors"]} == {"file_not_sent", "reason"}
    assert PayoutBatch.objects.get(pk=batch.pk).status == "exported"
    with pytest.raises(batches.PayoutRefused):  # its statements are still held: no second batch pays them
        batches.payout_batch_create(currency="JPY", pay_date=pay_day())
    body = {"file_not_sent": True, "reason": "金額訂正のため再作成"}
    assert finance.post(f"/api/v1/payout-batches/{batch.pk}/cancel", body, format="json").status_code == 200
    event = PayoutEvent.objects.get(batch=batch, kind="cancelled")
    assert (event.detail["file_not_sent"], event.detail["reason"], event.actor.username) == (
        True, "金額訂正のため再作成", "finance")  # fmt: skip
    assert batches.payout_batch_create(currency="JPY", pay_date=pay_day()).transfers == 3


def test_dates_and_states_that_would_misstate_a_payment_are_refused(world, two_final_months, finance):
    ahead = pay_day() + dt.timedelta(days=5)
    early = batches.payout_batch_create(currency="JPY", pay_date=ahead)
    assert finance.get(f"/api/v1/payout-batches/{early.pk}/zengin").status_code == 200
    not_yet = finance.post(f"/api/v1/payout-batches/{early.pk}/confirm")
    assert not_yet.status_code == 409  # the bank has not made the transfers yet
    assert ahead.isoformat() in not_yet.json()["detail"]
    assert not JournalTransaction.objects.filter(cause_type="payout").exists()
    batches.payout_batch_cancel(batch=early, file_not_sent=True, reason="日付の誤り")
    batch = batches.payout_batch_create(currency="JPY", pay_date=pay_day())
    batches.payout_batch_export(batch=batch)
    batches.payout_batch_confirm(batch=batch)
    again = finance.get(f"/api/v1/payout-batches/{batch.pk}/zengin")
    assert again.status_code == 409  # a paid batch's file is never issued again
    item = batch.items.filter(status="paid").first()
    future = {"reason": "口座なし", "returned_on": (pay_day() + dt.timedelta(days=1)).isoformat()}
    response = finance.post(f"/api/v1/payouts/{item.pk}/return", future, format="json")
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["returned_on"]
    bad = finance.post("/api/v1/payout-batches", {"pay_date": pay_day().isoformat(), "currency": "usd"},
                       format="json")  # fmt: skip
    assert [e["field"] for e in bad.json()["errors"]] == ["currency"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_confirmations_post_each_payment_once(world, two_final_months):
    """Four requests confirm the same batch at the same moment: one posts, the others find it confirmed."""
    import threading

    batch = batches.payout_batch_create(currency="JPY", pay_date=pay_day())
    batches.payout_batch_export(batch=batch)
    barrier, errors = threading.Barrier(4), []

    def confirm():
        try:
            barrier.wait()
            batches.payout_batch_confirm(batch=PayoutBatch.objects.get(pk=batch.pk))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert JournalTransaction.objects.filter(cause_type="payout").count() == 3
    assert PayoutEvent.objects.filter(batch=batch, kind="confirmed").count() == 1
    assert verify_ledger().sound


def test_a_batch_created_with_an_idempotency_key_is_created_once(world, two_final_months, finance):
    body = {"pay_date": pay_day().isoformat(), "currency": "JPY"}
    first = finance.post("/api/v1/payout-batches", body, format="json", HTTP_IDEMPOTENCY_KEY="pay-2026-11")
    assert first.status_code == 201
    again = finance.post("/api/v1/payout-batches", body, format="json", HTTP_IDEMPOTENCY_KEY="pay-2026-11")
    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert PayoutBatch.objects.count() == 1
    other = {"pay_date": pay_day().isoformat(), "currency": "USD"}
    conflict = finance.post("/api/v1/payout-batches", other, format="json", HTTP_IDEMPOTENCY_KEY="pay-2026-11")
    assert conflict.status_code == 409
    assert finance.post("/api/v1/payout-batches", body, format="json", HTTP_IDEMPOTENCY_KEY="").status_code == 400


def test_statements_finalized_before_withholding_was_accrued_are_reclassified_once(world, monkeypatch):
    """A database finalized by the previous code (withholding credited to tax payable at once): migration 0011
    moves it to accrued, so that paying the statements later moves it back exactly once."""
    import importlib
    from types import SimpleNamespace

    from payouts import reports, services

    original = services._statement_entry

    def legacy(statement, accounts, effective):
        entry = original(statement, accounts, effective)
        if entry is None:
            return None
        payable = accounts(services.AccountPurpose.WITHHOLDING_TAX_PAYABLE, statement.currency)
        legs = [(payable if account.purpose == "withholding_tax_accrued" else account, amount)
                for account, amount in entry.legs]  # fmt: skip
        return services.Entry(idempotency_key=entry.idempotency_key, legs=legs, memo=entry.memo,
                              effective_date=entry.effective_date, cause_type=entry.cause_type,
                              cause_id=entry.cause_id)  # fmt: skip

    monkeypatch.setattr(services, "_statement_entry", legacy)
    bank(world["a"], "ｴ- ﾀﾛｳ")
    october_usage(world)
    statement_run_finalize(run=run(OCTOBER))
    monkeypatch.undo()
    assert balances()[("withholding_tax_payable", None)] == -(267 + 214)
    migration = importlib.import_module("payouts.migrations.0011_withholding_accrued")
    editor = SimpleNamespace(connection=connection)
    for _twice in range(2):
        migration.reclassify(None, editor)
    assert JournalTransaction.objects.filter(idempotency_key__startswith="payouts:withholding-accrued:").count() == 2
    after = balances()
    assert (after[("withholding_tax_payable", None)], after[("withholding_tax_accrued", None)]) == (0, -(267 + 214))
    assert reports.reconciliation(period=OCTOBER).balanced
    batch = batches.payout_batch_create(currency="JPY", pay_date=pay_day())
    batches.payout_batch_export(batch=batch)
    batches.payout_batch_confirm(batch=batch)
    paid = balances()
    assert paid[("withholding_tax_payable", None)] == -267  # A's, paid; C's 214 stays accrued (carried)
    assert paid[("withholding_tax_accrued", None)] == -214
    assert verify_ledger().sound
