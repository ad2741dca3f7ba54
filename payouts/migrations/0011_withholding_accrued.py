"""Statements finalized before withholding tax was accrued (payouts 0010) credited it straight to withholding tax
payable. Paying them now moves it from accrued to payable, so each is reclassified once: Dr withholding tax payable,
Cr withholding tax accrued, dated as its statement, keyed `payouts:withholding-accrued:<statement>` (the
reconciliation reads it with its statement's transaction). Posted through the ledger's own service, which keeps the
hash chain; nothing to do on a database without such statements."""

from django.db import migrations

FIND = """
SELECT t.cause_id, t.effective_date, p.currency, -sum(p.amount) AS withheld
  FROM ledger_journaltransaction t
  JOIN ledger_posting p ON p.transaction_id = t.id
  JOIN ledger_account a ON a.id = p.account_id
 WHERE t.idempotency_key LIKE 'payouts:statement:%%' AND a.purpose = 'withholding_tax_payable'
 GROUP BY t.cause_id, t.effective_date, p.currency
HAVING sum(p.amount) <> 0
"""


def reclassify(apps, schema_editor):
    from ledger.choices import AccountPurpose
    from ledger.money import Money
    from ledger.services import Entry, account_get_or_create, journal_post_bulk

    with schema_editor.connection.cursor() as cursor:
        cursor.execute(FIND)
        rows = cursor.fetchall()
    entries = []
    for statement_id, effective, currency, withheld in rows:
        payable = account_get_or_create(purpose=AccountPurpose.WITHHOLDING_TAX_PAYABLE, currency=currency)
        accrued = account_get_or_create(purpose=AccountPurpose.WITHHOLDING_TAX_ACCRUED, currency=currency)
        entries.append(Entry(
            idempotency_key=f"payouts:withholding-accrued:{statement_id}",
            legs=[(payable, Money(int(withheld), currency)), (accrued, Money(-int(withheld), currency))],
            memo="withholding tax accrued until paid", effective_date=effective, cause_type="statement",
            cause_id=statement_id,
        ))  # fmt: skip
    if entries:
        journal_post_bulk(entries=entries)


class Migration(migrations.Migration):
    dependencies = [("payouts", "0010_payout_batches"), ("ledger", "0005_withholding_accrued")]

    operations = [migrations.RunPython(reclassify, migrations.RunPython.noop)]
