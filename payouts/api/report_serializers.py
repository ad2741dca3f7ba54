"""Output shapes of the finance reports, for the OpenAPI schema (payouts.api.report_views writes the dictionaries)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from config.fields import MONEY_SCHEMA, ISODateField, MoneyField
from ledger.choices import AccountKind
from licensing.choices import HolderKind

from ..reports import CHECKS

SIGNED_MONEY_SCHEMA = {
    **MONEY_SCHEMA,
    "properties": {
        **MONEY_SCHEMA["properties"],
        "amount": {
            "type": "string",
            "pattern": r"^-?\d+(\.\d+)?$",
            "example": "-1500",
            "description": "Major units, at most the currency's minor digits; negative for a credit (or a shortfall).",
        },
    },
}


@extend_schema_field(SIGNED_MONEY_SCHEMA)
class SignedMoneyField(serializers.Field):
    """A money object whose amount may be negative (balances, differences). Output only."""

    def to_representation(self, value):
        return value


class TrialBalanceAccountOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField(help_text=f"The account's kind: {', '.join(AccountKind.values)}.")
    currency = serializers.CharField()
    debits = MoneyField()
    credits = MoneyField()
    balance = SignedMoneyField(help_text="Debits − credits: positive a debit balance, negative a credit balance.")


class TrialBalanceTotalOutput(serializers.Serializer):
    currency = serializers.CharField()
    debits = MoneyField()
    credits = MoneyField()
    balance = SignedMoneyField(help_text="Zero when the books balance.")


class TrialBalanceOutput(serializers.Serializer):
    as_of = ISODateField(help_text="Transactions effective on or before this date.")
    balanced = serializers.BooleanField(help_text="Per currency, debits equal credits.")
    accounts = TrialBalanceAccountOutput(many=True)
    totals = TrialBalanceTotalOutput(many=True)


CHECK_KINDS = f"The check: {', '.join(CHECKS)}."


class ReconciliationCheckOutput(serializers.Serializer):
    kind = serializers.CharField(help_text=CHECK_KINDS)
    label = serializers.CharField(help_text="The check's short name, in the request's language.")
    description = serializers.CharField(help_text="The identity this check compares.")
    differences = serializers.IntegerField(help_text="How many differences it found (all of them).")
    truncated = serializers.BooleanField(help_text="Only the first 1,000 of them are listed.")


class ReconciliationDifferenceOutput(serializers.Serializer):
    kind = serializers.CharField(help_text=CHECK_KINDS)
    object_type = serializers.CharField(help_text="statement, invoice, payout_item, agreement, period or ledger.")
    object_id = serializers.CharField()
    field = serializers.CharField(help_text="The field, the ledger account purpose, or basis:use for usage.")
    currency = serializers.CharField(allow_null=True, help_text="Null: expected and found are quantities.")
    expected = serializers.CharField(
        allow_null=True, help_text="Decimal string in major units of `currency` (a quantity when it is null)."
    )
    found = serializers.CharField(allow_null=True)
    detail = serializers.CharField(help_text="What is missing or where, for people.")


class ReconciliationOutput(serializers.Serializer):
    period = serializers.CharField(help_text="YYYY-MM")
    run = serializers.UUIDField(allow_null=True, help_text="The statement run whose statements and invoices these are.")
    balanced = serializers.BooleanField(help_text="No difference at all.")
    statements = serializers.IntegerField()
    invoices = serializers.IntegerField()
    payout_items = serializers.IntegerField(help_text="Paid or returned transfers of the period's statements.")
    checks = ReconciliationCheckOutput(many=True)
    differences = ReconciliationDifferenceOutput(many=True)


class WithholdingMonthOutput(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM, by the transactions' effective dates.")
    currency = serializers.CharField()
    withheld = MoneyField(help_text="Credited to withholding tax payable by payments.")
    returned = MoneyField(help_text="Debited back by the reversals of returned transfers.")
    net = SignedMoneyField(help_text="Withheld − returned: the month's tax to remit.")
    due_date = ISODateField(
        help_text="The 10th of the following month, a Saturday or Sunday moved to Monday (national holidays are not)."
    )
    remitted = SignedMoneyField(help_text="Other debits in the month: paid to the tax office.")
    outstanding = SignedMoneyField(help_text="The account's credit balance at the month's end.")


class WithholdingTotalOutput(serializers.Serializer):
    currency = serializers.CharField()
    withheld = MoneyField()
    returned = MoneyField()
    net = SignedMoneyField()
    remitted = SignedMoneyField()


# "from" is a Python keyword: an inline serializer names its fields in a dictionary
WithholdingOutput = inline_serializer(
    "WithholdingOutput",
    fields={
        "from": serializers.CharField(help_text="YYYY-MM, the first month."),
        "to": serializers.CharField(help_text="YYYY-MM, the last month (included)."),
        "months": WithholdingMonthOutput(many=True),
        "totals": WithholdingTotalOutput(many=True),
    },
)


class PaymentSummaryHolderOutput(serializers.Serializer):
    rights_holder = serializers.UUIDField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=HolderKind.choices)
    resident = serializers.BooleanField()
    country = serializers.CharField()
    postal_code = serializers.CharField()
    address = serializers.CharField()
    invoice_registration_number = serializers.CharField(allow_null=True)
    currency = serializers.CharField()
    payments = serializers.IntegerField(help_text="Transfers paid in the year (returned ones are not payments).")
    amount = MoneyField(help_text="Paid before withholding: transferred + withholding tax.")
    consumption_tax = MoneyField(help_text="Of which consumption tax.")
    withholding_tax = MoneyField()
    transferred = MoneyField()


class PaymentSummaryTotalOutput(serializers.Serializer):
    currency = serializers.CharField()
    payments = serializers.IntegerField()
    amount = MoneyField()
    consumption_tax = MoneyField()
    withholding_tax = MoneyField()
    transferred = MoneyField()


class PaymentSummaryOutput(serializers.Serializer):
    year = serializers.IntegerField()
    holders = PaymentSummaryHolderOutput(many=True)
    totals = PaymentSummaryTotalOutput(many=True)
