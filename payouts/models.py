"""Statements, invoices and the dated tax rules they are computed with (RULES.md, From royalty to payment).

Money is integer minor units in the row's currency; the arithmetic each row must satisfy is checked by PostgreSQL.
"""

from __future__ import annotations

import uuid

from django.conf import settings
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


class StatementRun(models.Model):
    """One computation of a period's statements and invoices (API.md: POST /statement-runs), with its progress."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    period = models.DateField(_("period"))
    status = models.CharField(_("status"), max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    agreements_total = models.PositiveIntegerField(_("agreements"), default=0)
    agreements_done = models.PositiveIntegerField(_("agreements done"), default=0)
    lines_written = models.PositiveBigIntegerField(_("lines written"), default=0)
    usage_mark = models.BigIntegerField(
        _("usage mark"), default=0, help_text=_("The highest usage event id of the period when the run computed.")
    )
    unallocated = models.JSONField(
        _("unallocated"), default=dict, blank=True,
        help_text=_("Royalties of works without rights holders, per currency (minor units): billed, held in the "
                    "royalty clearing account until the work has shares."),
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
