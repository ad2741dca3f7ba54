from decimal import Decimal

from django.db import migrations

RULES = [
    # (kind, effective_from, rate %, threshold (JPY), rate above %, note)
    ("consumption", "2019-10-01", Decimal("10"), None, None, "標準税率 10% (standard rate)"),
    ("withholding_resident", "2013-01-01", Decimal("10.21"), 1_000_000, Decimal("20.42"),
     "所得税 + 復興特別所得税: 10.21% up to 1,000,000 JPY, 20.42% above"),
    ("withholding_non_resident", "2013-01-01", Decimal("20.42"), None, None, "非居住者 20.42%"),
]  # fmt: skip


def create(apps, schema_editor):
    rule = apps.get_model("payouts", "TaxRule")
    for kind, effective_from, rate, threshold, rate_above, note in RULES:
        rule.objects.get_or_create(
            kind=kind, effective_from=effective_from,
            defaults={"rate": rate, "threshold": threshold, "rate_above": rate_above, "note": note},
        )  # fmt: skip


def remove(apps, schema_editor):
    rule = apps.get_model("payouts", "TaxRule")
    for kind, effective_from, *_ in RULES:
        rule.objects.filter(kind=kind, effective_from=effective_from).delete()


class Migration(migrations.Migration):
    """The rates in force (RULES.md, 5 and 6): one dated table, editable by staff when the law changes."""

    dependencies = [("payouts", "0001_statements")]

    operations = [migrations.RunPython(create, remove)]
