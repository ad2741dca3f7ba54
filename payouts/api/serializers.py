"""Output shapes, for the OpenAPI schema (the presenters write the dictionaries)."""

from __future__ import annotations

from rest_framework import serializers

from config.fields import ISODateField, MoneyField

from ..models import Basis, BatchStatus, ItemStatus, RunStatus, RunStep, StatementStatus


class StatementRunOutput(serializers.Serializer):
    id = serializers.UUIDField()
    period = serializers.CharField(help_text="YYYY-MM")
    status = serializers.ChoiceField(choices=RunStatus.choices)
    agreements_total = serializers.IntegerField()
    agreements_done = serializers.IntegerField()
    lines_written = serializers.IntegerField()
    step = serializers.ChoiceField(
        choices=RunStep.choices, allow_null=True,
        help_text="What a running run is doing now (its longest steps, in order); where a failed one stopped; null "
        "once done or before it starts.",
    )  # fmt: skip
    unallocated = serializers.ListField(
        child=MoneyField(), help_text="Royalties of works without rights holders, per currency: billed, not paid yet."
    )
    error = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    finalized_at = serializers.DateTimeField(allow_null=True)


class StatementLineOutput(serializers.Serializer):
    licensee = serializers.UUIDField()
    agreement = serializers.UUIDField()
    work = serializers.UUIDField()
    use = serializers.CharField(allow_null=True)
    quantity = serializers.IntegerField()
    basis = serializers.ChoiceField(choices=Basis.choices)
    gross = MoneyField()
    commission = MoneyField()
    net = MoneyField()


class StatementOutput(serializers.Serializer):
    id = serializers.UUIDField()
    rights_holder = serializers.UUIDField()
    period = serializers.CharField(help_text="YYYY-MM")
    currency = serializers.CharField()
    status = serializers.ChoiceField(choices=StatementStatus.choices)
    gross = MoneyField()
    commission = MoneyField()
    net_royalties = MoneyField()
    consumption_tax = MoneyField()
    withholding_tax = MoneyField()
    carried_forward = MoneyField()
    payable = MoneyField()
    carried_out = serializers.BooleanField(help_text="Below the holder's minimum payout: carried to the next one.")
    registration_number = serializers.CharField(allow_null=True)
    paid_at = serializers.DateTimeField(allow_null=True)
    payout = serializers.UUIDField(allow_null=True, help_text="The transfer that paid it (GET /payouts).")
    lines = StatementLineOutput(many=True)


class InvoiceLineOutput(serializers.Serializer):
    basis = serializers.ChoiceField(choices=Basis.choices)
    use = serializers.CharField(allow_null=True)
    quantity = serializers.IntegerField()
    amount = MoneyField()


class InvoiceOutput(serializers.Serializer):
    id = serializers.UUIDField()
    licensee = serializers.UUIDField()
    agreement = serializers.UUIDField()
    period = serializers.CharField(help_text="YYYY-MM")
    currency = serializers.CharField()
    status = serializers.ChoiceField(choices=StatementStatus.choices)
    royalties = MoneyField()
    advance_recouped = MoneyField()
    amount_due = MoneyField()
    lines = InvoiceLineOutput(many=True)


class PayoutItemOutput(serializers.Serializer):
    id = serializers.UUIDField()
    statement = serializers.UUIDField()
    rights_holder = serializers.UUIDField()
    period = serializers.CharField(help_text="YYYY-MM")
    status = serializers.ChoiceField(choices=ItemStatus.choices)
    amount = MoneyField(help_text="The statement's payable, transferred.")
    withholding_tax = MoneyField(help_text="Withheld from this payment (with the statements carried into it).")
    blocked_reason = serializers.CharField(allow_null=True, help_text="Why this holder cannot be paid now.")
    paid_at = serializers.DateTimeField(allow_null=True)
    returned_on = ISODateField(allow_null=True)
    returned_reason = serializers.CharField(allow_null=True)


class PayoutBatchOutput(serializers.Serializer):
    id = serializers.UUIDField()
    currency = serializers.CharField()
    pay_date = ISODateField()
    status = serializers.ChoiceField(choices=BatchStatus.choices)
    transfers = serializers.IntegerField()
    total = MoneyField()
    blocked = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    exported_at = serializers.DateTimeField(allow_null=True)
    confirmed_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    items = PayoutItemOutput(many=True, required=False)


class PayoutBatchInput(serializers.Serializer):
    pay_date = ISODateField(help_text="The transfer date written in the bank file (today or later).")
    currency = serializers.CharField(max_length=3, help_text="ISO 4217; JPY batches export a Zengin file.")


class PayoutReturnInput(serializers.Serializer):
    reason = serializers.CharField(max_length=500, help_text="Why the bank returned the transfer.")
    returned_on = ISODateField(required=False, help_text="The day the money came back (default: today).")


class PayoutCancelInput(serializers.Serializer):
    file_not_sent = serializers.BooleanField(
        required=False, default=False,
        help_text="Required (true) once the file was exported: the file was not sent to the bank.",
    )  # fmt: skip
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="",
                                   help_text="Why the batch is cancelled (required once exported).")  # fmt: skip


class RemittanceInput(serializers.Serializer):
    month = serializers.RegexField(r"^\d{4}-(0[1-9]|1[0-2])$", help_text="YYYY-MM: the month whose tax is paid.")
    currency = serializers.CharField(max_length=3, default="JPY")
    paid_on = ISODateField(help_text="The day it was paid to the tax office (by the 10th of the next month).")


class RemittanceOutput(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM")
    amount = MoneyField()
    paid_on = ISODateField()
    transaction = serializers.IntegerField(help_text="The journal transaction.")
