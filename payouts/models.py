"""Statements, invoices and the dated tax rules they are computed with (RULES.md, From royalty to payment).

Money is integer minor units in the row's currency; the arithmetic each row must satisfy is checked by PostgreSQL.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from licensing.models import Agreement, Licensee, RightsHolder, Term, Work


class TaxKind(models.TextChoices):
    CONSUMPTION = "consumption", _("Consumption tax")
    WITHHOLDING_RESIDENT = "withholding_resident", _("Withholding income tax, resident individual")
    WITHHOLDING_NON_RESIDENT = "withholding_non_resident", _("Withholding income tax, non-resident individual")


class TaxRule(models.Model):
    """A tax rate from a date on: the one table the engine reads rates from (RULES.md: never literals in code).

    `rate` percent of the amount; with a `threshold` (minor units of `threshold_currency`), `rate` applies up to it
    and `rate_above` to the part above it (withholding: 10.21 % up to 1,000,000 JPY, 20.42 % above)."""

    kind = models.CharField(_("kind"), max_length=32, choices=TaxKind.choices)
    effective_from = models.DateField(_("effective from"))
    rate = models.DecimalField(_("rate (%)"), max_digits=7, decimal_places=4)
    threshold = models.BigIntegerField(_("threshold"), null=True, blank=True)
    threshold_currency = models.CharField(_("threshold currency"), max_length=3, default="JPY")
    rate_above = models.DecimalField(_("rate above the threshold (%)"), max_digits=7, decimal_places=4, null=True,
                                     blank=True)  # fmt: skip
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("tax rule")
        verbose_name_plural = _("tax rules")
        ordering = ["kind", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "effective_from"], name="%(app_label)s_%(class)s_one_per_day"),
            models.CheckConstraint(condition=Q(rate__gte=0, rate__lte=100), name="%(app_label)s_%(class)s_rate"),
            models.CheckConstraint(
                condition=Q(threshold__isnull=True, rate_above__isnull=True)
                | Q(threshold__gt=0, rate_above__isnull=False, rate_above__gte=0, rate_above__lte=100),
                name="%(app_label)s_%(class)s_threshold_pair",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.rate}% ({self.effective_from})"


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class RunStep(models.TextChoices):
    """What a run is doing (its longest steps, in order); where a failed run stopped."""

    USAGE = "usage", _("Aggregating the month's usage")
    FIXED_TERMS = "fixed_terms", _("Flat fees and minimum guarantees")
    LINES = "lines", _("Splitting the lines among rights holders")
    INDEXES = "indexes", _("Indexing the lines")
    INVOICES = "invoices", _("Invoices")
    TAXES = "taxes", _("Taxes and payables")


class StatementRun(models.Model):
    """One computation of a period's statements and invoices (API.md: POST /statement-runs), with its progress."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    period = models.DateField(_("period"))
    status = models.CharField(_("status"), max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    agreements_total = models.PositiveIntegerField(_("agreements"), default=0)
    agreements_done = models.PositiveIntegerField(_("agreements done"), default=0)
    lines_written = models.PositiveBigIntegerField(_("lines written"), default=0)
    usage_mark = models.BigIntegerField(
        _("usage mark"), default=0, help_text=_("How many usage events the period held when the run computed.")
    )
    late_reports = ArrayField(
        models.UUIDField(), default=list, blank=True, verbose_name=_("late reports"),
        help_text=_("The late usage reports this run adjusts, fixed when it computes; marked adjusted when it is "
                    "finalized."),
    )  # fmt: skip
    unallocated = models.JSONField(
        _("unallocated"), default=dict, blank=True,
        help_text=_("Royalties of works without rights holders, per currency (minor units): billed, held in the "
                    "royalty clearing account until the work has shares."),
    )  # fmt: skip
    step = models.CharField(
        _("step"), max_length=16, choices=RunStep.choices, blank=True, default="", db_default="",
        help_text=_("What a running run is doing now; where a failed one stopped."),
    )  # fmt: skip
    parts = models.JSONField(
        _("parts"), default=list, blank=True,
        help_text=_("A run split across workers: the agreements (ids) of each of its tasks, dealt once when it was "
                    "dispatched."),
    )  # fmt: skip
    error = models.TextField(_("error"), blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+", verbose_name=_("requested by"))  # fmt: skip
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    finalized_at = models.DateTimeField(_("finalized at"), null=True, blank=True)

    class Meta:
        verbose_name = _("statement run")
        verbose_name_plural = _("statement runs")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(period__day=1), name="%(app_label)s_%(class)s_period_first_day"),
            models.CheckConstraint(
                condition=Q(agreements_done__lte=F("agreements_total")), name="%(app_label)s_%(class)s_progress"
            ),
            models.CheckConstraint(
                condition=Q(finalized_at__isnull=True) | Q(status="done"), name="%(app_label)s_%(class)s_final_done"
            ),
            models.CheckConstraint(condition=Q(step__in=["", *RunStep.values]), name="%(app_label)s_%(class)s_step"),
            # a step while running, or where a failed run stopped; none before or once done
            models.CheckConstraint(
                condition=Q(step="") | Q(status__in=[RunStatus.RUNNING, RunStatus.FAILED]),
                name="%(app_label)s_%(class)s_step_running",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.period:%Y-%m} ({self.get_status_display()})"


class StatementStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    FINAL = "final", _("Final")
    PAID = "paid", _("Paid")


class Statement(models.Model):
    """What a rights holder earned in a period, in one currency (RULES.md, From royalty to payment, 4 to 7)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.ForeignKey(StatementRun, on_delete=models.PROTECT, related_name="statements", verbose_name=_("run"))
    rights_holder = models.ForeignKey(RightsHolder, on_delete=models.PROTECT, related_name="statements",
                                      verbose_name=_("rights holder"))  # fmt: skip
    period = models.DateField(_("period"))
    currency = models.CharField(_("currency"), max_length=3)
    status = models.CharField(_("status"), max_length=8, choices=StatementStatus.choices,
                              default=StatementStatus.DRAFT)  # fmt: skip
    gross = models.BigIntegerField(_("gross"), default=0)
    commission = models.BigIntegerField(_("commission"), default=0)
    net_royalties = models.BigIntegerField(_("net royalties"), default=0)
    consumption_tax = models.BigIntegerField(_("consumption tax"), default=0)
    withholding_tax = models.BigIntegerField(_("withholding tax"), default=0)
    carried_forward = models.BigIntegerField(
        _("carried forward"), default=0, help_text=_("Payable of earlier statements below the minimum payout.")
    )
    payable = models.BigIntegerField(_("payable"), default=0)
    carried_out = models.BooleanField(
        _("carried to the next statement"), default=False,
        help_text=_("The payable is below the holder's minimum payout: it is carried forward, not paid."),
    )  # fmt: skip
    registration_number = models.CharField(
        _("invoice registration number"), max_length=14, blank=True,
        help_text=_("The holder's qualified-invoice number when the statement was computed."),
    )  # fmt: skip
    finalized_at = models.DateTimeField(_("finalized at"), null=True, blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    payout = models.ForeignKey(
        "PayoutItem", on_delete=models.PROTECT, null=True, blank=True, related_name="statements_paid",
        verbose_name=_("paid by"), help_text=_("The transfer that paid it (its own, or the one it was carried into)."),
    )  # fmt: skip

    class Meta:
        verbose_name = _("statement")
        verbose_name_plural = _("statements")
        ordering = ["-period", "rights_holder"]
        constraints = [
            models.UniqueConstraint(
                fields=["rights_holder", "period", "currency"],
                name="%(app_label)s_%(class)s_one_per_holder_period_currency",
            ),
            models.CheckConstraint(condition=Q(period__day=1), name="%(app_label)s_%(class)s_period_first_day"),
            models.CheckConstraint(
                condition=Q(net_royalties=F("gross") - F("commission")), name="%(app_label)s_%(class)s_net"
            ),
            models.CheckConstraint(
                condition=Q(
                    payable=F("net_royalties") + F("consumption_tax") - F("withholding_tax") + F("carried_forward")
                ),
                name="%(app_label)s_%(class)s_payable",
            ),
            models.CheckConstraint(
                condition=Q(consumption_tax__gte=0, withholding_tax__gte=0), name="%(app_label)s_%(class)s_taxes"
            ),
            models.CheckConstraint(
                condition=Q(status="draft", finalized_at__isnull=True)
                | Q(status__in=["final", "paid"], finalized_at__isnull=False),
                name="%(app_label)s_%(class)s_final_at",
            ),
            models.CheckConstraint(
                condition=Q(paid_at__isnull=True) | Q(status="paid"), name="%(app_label)s_%(class)s_paid_at"
            ),
            models.CheckConstraint(
                condition=Q(status="paid", paid_at__isnull=False, payout__isnull=False)
                | (~Q(status="paid") & Q(payout__isnull=True)),
                name="%(app_label)s_%(class)s_paid_by",
            ),
            # target of the payout items' composite key: a statement is paid in its own currency
            models.UniqueConstraint(fields=["id", "currency"], name="%(app_label)s_%(class)s_id_currency"),
        ]

    def __str__(self) -> str:
        return f"{self.rights_holder} {self.period:%Y-%m} {self.currency}"


class Basis(models.TextChoices):
    PER_UNIT = "per_unit", _("Per unit")
    PER_WORK = "per_work", _("Per work")
    REVENUE_SHARE = "revenue_share", _("Revenue share")
    FLAT_FEE = "flat_fee", _("Flat fee")
    MINIMUM_GUARANTEE = "minimum_guarantee", _("Minimum guarantee")
    ADJUSTMENT = "adjustment", _("Adjustment")


class StatementLine(models.Model):
    """A rights holder's part of one royalty line (agreement, work, use, basis): gross, commission and net split
    among the work's shares by largest remainder (RULES.md, 1 to 3). The table is partitioned by period and written
    by the engine a period at a time (payouts/sql/0009_lines_by_period.sql): its keys and checks live there."""

    id = models.BigAutoField(primary_key=True)
    period = models.DateField(_("period"))
    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, db_constraint=False, related_name="lines",
                                  verbose_name=_("statement"))  # fmt: skip
    licensee = models.ForeignKey(Licensee, on_delete=models.PROTECT, db_constraint=False, related_name="+",
                                 verbose_name=_("licensee"))  # fmt: skip
    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, db_constraint=False, related_name="+",
                                  verbose_name=_("agreement"))  # fmt: skip
    work = models.ForeignKey(Work, on_delete=models.PROTECT, db_constraint=False, related_name="+",
                             verbose_name=_("work"))  # fmt: skip
    use = models.CharField(_("use"), max_length=20, blank=True)
    basis = models.CharField(_("basis"), max_length=20, choices=Basis.choices)
    adjusted_period = models.DateField(
        _("adjusted period"), null=True, blank=True, help_text=_("Adjustment: the final period the usage belongs to.")
    )
    quantity = models.BigIntegerField(_("quantity"), default=0)
    gross = models.BigIntegerField(_("gross"))
    commission = models.BigIntegerField(_("commission"))
    net = models.BigIntegerField(_("net"))

    class Meta:
        managed = False
        db_table = "payouts_statementline"
        verbose_name = _("statement line")
        verbose_name_plural = _("statement lines")
        ordering = ["statement", "licensee", "work", "use", "basis"]

    def __str__(self) -> str:
        return f"{self.get_basis_display()} {self.work_id}"


class Invoice(models.Model):
    """What a licensee owes for one agreement and period: royalties by term, less the advance recouped."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.ForeignKey(StatementRun, on_delete=models.PROTECT, related_name="invoices", verbose_name=_("run"))
    licensee = models.ForeignKey(Licensee, on_delete=models.PROTECT, related_name="invoices",
                                 verbose_name=_("licensee"))  # fmt: skip
    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, related_name="invoices",
                                  verbose_name=_("agreement"))  # fmt: skip
    period = models.DateField(_("period"))
    currency = models.CharField(_("currency"), max_length=3)
    status = models.CharField(_("status"), max_length=8, choices=StatementStatus.choices,
                              default=StatementStatus.DRAFT)  # fmt: skip
    royalties = models.BigIntegerField(_("royalties"), default=0)
    advance_recouped = models.BigIntegerField(_("advance recouped"), default=0)
    amount_due = models.BigIntegerField(_("amount due"), default=0)
    finalized_at = models.DateTimeField(_("finalized at"), null=True, blank=True)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-period", "licensee"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "period"], name="%(app_label)s_%(class)s_one_per_period"),
            models.CheckConstraint(condition=Q(period__day=1), name="%(app_label)s_%(class)s_period_first_day"),
            models.CheckConstraint(
                condition=Q(advance_recouped__gte=0, advance_recouped__lte=F("royalties")) | Q(advance_recouped=0),
                name="%(app_label)s_%(class)s_recoup_at_most_royalties",
            ),
            models.CheckConstraint(
                condition=Q(amount_due=F("royalties") - F("advance_recouped")),
                name="%(app_label)s_%(class)s_amount_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.licensee} {self.agreement.reference} {self.period:%Y-%m}"


class InvoiceLine(models.Model):
    """An invoice's royalties by term (basis and use), with the quantity they are for."""

    id = models.BigAutoField(primary_key=True)
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines", verbose_name=_("invoice"))
    basis = models.CharField(_("basis"), max_length=20, choices=Basis.choices)
    use = models.CharField(_("use"), max_length=20, blank=True)
    quantity = models.BigIntegerField(_("quantity"), default=0)
    amount = models.BigIntegerField(_("amount"))

    class Meta:
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")
        ordering = ["invoice", "basis", "use"]

    def __str__(self) -> str:
        return f"{self.get_basis_display()} {self.use}".strip()


class RoyaltyStage(models.Model):
    """Royalty lines of a run split across workers (statement_run_compute_part), until the run is assembled."""

    id = models.BigAutoField(primary_key=True)
    run = models.ForeignKey(StatementRun, on_delete=models.CASCADE, related_name="+", db_index=False)
    part = models.PositiveSmallIntegerField()
    agreement_id = models.UUIDField()
    licensee_id = models.UUIDField()
    currency = models.CharField(max_length=3)
    work_id = models.UUIDField()
    use = models.CharField(max_length=20, blank=True)
    basis = models.CharField(max_length=20)
    quantity = models.BigIntegerField()
    gross = models.BigIntegerField()
    commission = models.BigIntegerField()
    adjusted_period = models.DateField(null=True)

    class Meta:
        indexes = [models.Index(fields=["run", "part"], name="payouts_royaltystage_run_part")]

    def __str__(self) -> str:
        return f"{self.run_id} part {self.part}"


class Advance(Term):
    """An agreement's `advance` term, seen from the money's side: received from the licensee or not yet."""

    class Meta:
        proxy = True
        verbose_name = _("advance")
        verbose_name_plural = _("advances")


class BatchStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    EXPORTED = "exported", _("Exported")
    CONFIRMED = "confirmed", _("Confirmed")
    CANCELLED = "cancelled", _("Cancelled")


class PayoutBatch(models.Model):
    """The transfers of one pay date and currency (RULES.md, Zengin transfer file): the final, unpaid statements
    gathered when it was created, exported as a bank file, then confirmed as paid."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    currency = models.CharField(_("currency"), max_length=3)
    pay_date = models.DateField(_("pay date"))
    status = models.CharField(_("status"), max_length=10, choices=BatchStatus.choices, default=BatchStatus.DRAFT)
    transfers = models.PositiveIntegerField(_("transfers"), default=0)
    total = models.BigIntegerField(_("total"), default=0, help_text=_("Minor units: the sum of the transfers."))
    blocked = models.PositiveIntegerField(_("blocked"), default=0)
    idempotency_key = models.CharField(
        _("idempotency key"), max_length=200, null=True, blank=True, unique=True,
        help_text=_("The Idempotency-Key of the request that created it: the same request again returns this batch."),
    )  # fmt: skip
    request_digest = models.CharField(_("request digest"), max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"))  # fmt: skip
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    exported_at = models.DateTimeField(_("exported at"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("payout batch")
        verbose_name_plural = _("payout batches")
        ordering = ["-created_at"]
        permissions = [
            ("export_payoutbatch", _("Can export a payout batch's transfer file")),
            ("confirm_payoutbatch", _("Can confirm a payout batch as paid and record returned transfers")),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="%(app_label)s_%(class)s_currency"),
            models.CheckConstraint(condition=Q(total__gte=0), name="%(app_label)s_%(class)s_total"),
            models.CheckConstraint(
                condition=Q(status="draft", exported_at__isnull=True)
                | Q(status__in=["exported", "confirmed"], exported_at__isnull=False)
                | Q(status="cancelled"),
                name="%(app_label)s_%(class)s_exported_at",
            ),
            models.CheckConstraint(
                condition=Q(confirmed_at__isnull=True) | Q(status="confirmed"),
                name="%(app_label)s_%(class)s_confirmed_at",
            ),
            models.CheckConstraint(
                condition=Q(status="confirmed", confirmed_at__isnull=False) | ~Q(status="confirmed"),
                name="%(app_label)s_%(class)s_confirmed_has_date",
            ),
            models.CheckConstraint(
                condition=Q(status="cancelled", cancelled_at__isnull=False)
                | (~Q(status="cancelled") & Q(cancelled_at__isnull=True)),
                name="%(app_label)s_%(class)s_cancelled_at",
            ),
            # target of the items' composite key: an item is paid in its batch's currency
            models.UniqueConstraint(fields=["id", "currency"], name="%(app_label)s_%(class)s_id_currency"),
        ]

    def __str__(self) -> str:
        return f"{self.pay_date} {self.currency} ({self.get_status_display()})"


class ItemStatus(models.TextChoices):
    INCLUDED = "included", _("Included")
    BLOCKED = "blocked", _("Blocked")
    PAID = "paid", _("Paid")
    RETURNED = "returned", _("Returned")
    CANCELLED = "cancelled", _("Cancelled")


class PayoutItem(models.Model):
    """One statement in a batch: a transfer to its rights holder (the bank account as it was when the batch was
    made), or a blocked one with the reason. PostgreSQL keeps a statement in at most one open batch."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    batch = models.ForeignKey(PayoutBatch, on_delete=models.PROTECT, related_name="items", verbose_name=_("batch"))
    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="payout_items",
                                  verbose_name=_("statement"))  # fmt: skip
    rights_holder = models.ForeignKey(RightsHolder, on_delete=models.PROTECT, related_name="payout_items",
                                      verbose_name=_("rights holder"))  # fmt: skip
    currency = models.CharField(_("currency"), max_length=3)
    status = models.CharField(_("status"), max_length=10, choices=ItemStatus.choices, default=ItemStatus.INCLUDED)
    amount = models.BigIntegerField(_("amount"), help_text=_("Minor units: the statement's payable, transferred."))
    withholding_tax = models.BigIntegerField(
        _("withholding tax"), default=0,
        help_text=_("Withheld from this payment: the statement's and those of the statements carried into it."),
    )  # fmt: skip
    blocked_reason = models.TextField(_("blocked because"), blank=True)
    bank_code = models.CharField(_("bank code"), max_length=4, blank=True)
    branch_code = models.CharField(_("branch code"), max_length=3, blank=True)
    account_type = models.CharField(_("account type"), max_length=10, blank=True)
    account_number = models.CharField(_("account number"), max_length=7, blank=True)
    account_holder_kana = models.CharField(_("account holder (kana)"), max_length=30, blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    returned_at = models.DateTimeField(_("returned at"), null=True, blank=True)
    returned_on = models.DateField(_("returned on"), null=True, blank=True)
    returned_reason = models.TextField(_("return reason"), blank=True)

    class Meta:
        verbose_name = _("payout item")
        verbose_name_plural = _("payout items")
        ordering = ["batch", "rights_holder", "statement__period"]
        constraints = [
            # RULES.md: a statement is paid once. Held while its batch is open or paid; a blocked, cancelled or
            # returned item releases it for another batch.
            models.UniqueConstraint(
                fields=["statement"],
                condition=Q(status__in=["included", "paid"]),
                name="%(app_label)s_%(class)s_statement_in_one_open_batch",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="%(app_label)s_%(class)s_amount_positive"),
            models.CheckConstraint(condition=Q(withholding_tax__gte=0), name="%(app_label)s_%(class)s_withholding"),
            models.CheckConstraint(
                condition=(Q(status="blocked") & ~Q(blocked_reason="")) | (~Q(status="blocked") & Q(blocked_reason="")),
                name="%(app_label)s_%(class)s_blocked_reason",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["paid", "returned"], paid_at__isnull=False)
                | (~Q(status__in=["paid", "returned"]) & Q(paid_at__isnull=True)),
                name="%(app_label)s_%(class)s_paid_at",
            ),
            models.CheckConstraint(
                condition=Q(status="returned", returned_at__isnull=False, returned_on__isnull=False)
                & ~Q(returned_reason="")
                | (~Q(status="returned") & Q(returned_at__isnull=True, returned_on__isnull=True, returned_reason="")),
                name="%(app_label)s_%(class)s_returned",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rights_holder} {self.statement.period:%Y-%m} {self.currency}"


class PayoutEventKind(models.TextChoices):
    CREATED = "created", _("Created")
    EXPORTED = "exported", _("Exported")
    CONFIRMED = "confirmed", _("Confirmed")
    RETURNED = "returned", _("Transfer returned")
    CANCELLED = "cancelled", _("Cancelled")


class PayoutEvent(models.Model):
    """The audit history of payouts: who created, exported, confirmed, cancelled a batch or recorded a returned
    transfer, when, and what (file names and digests, counts, totals). PostgreSQL refuses to change or delete it."""

    id = models.BigAutoField(primary_key=True)
    batch = models.ForeignKey(PayoutBatch, on_delete=models.PROTECT, related_name="events", verbose_name=_("batch"))
    item = models.ForeignKey(PayoutItem, on_delete=models.PROTECT, null=True, blank=True, related_name="events",
                             verbose_name=_("item"))  # fmt: skip
    kind = models.CharField(_("event"), max_length=10, choices=PayoutEventKind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+", verbose_name=_("by"))  # fmt: skip
    at = models.DateTimeField(_("at"), auto_now_add=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    class Meta:
        verbose_name = _("payout event")
        verbose_name_plural = _("payout events")
        ordering = ["batch", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.at:%Y-%m-%d %H:%M}"
