"""What licensees report they used: reports (idempotent, by key) and their events (a partitioned table)."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..choices import Use
from .agreements import Agreement, Licensee
from .catalogue import Work


class PeriodStatus(models.TextChoices):
    OPEN = "open", _("Open")
    FINAL = "final", _("Final")


class ReportingPeriod(models.Model):
    """A calendar month (Asia/Tokyo). Once its statements are final, late usage becomes adjustments of a later one."""

    period = models.DateField(_("period"), primary_key=True, help_text=_("The first day of the month."))
    status = models.CharField(_("status"), max_length=8, choices=PeriodStatus.choices, default=PeriodStatus.OPEN)
    finalized_at = models.DateTimeField(_("finalized at"), null=True, blank=True)

    class Meta:
        verbose_name = _("reporting period")
        verbose_name_plural = _("reporting periods")
        ordering = ["-period"]
        constraints = [
            models.CheckConstraint(condition=Q(period__day=1), name="%(app_label)s_%(class)s_first_of_month"),
        ]

    def __str__(self) -> str:
        return self.period.strftime("%Y-%m")


class ReportStatus(models.TextChoices):
    ACCEPTED = "accepted", _("Accepted")
    PROCESSING = "processing", _("Processing")
    REJECTED = "rejected", _("Rejected")
    FAILED = "failed", _("Failed")


class UsageReport(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    licensee = models.ForeignKey(Licensee, on_delete=models.PROTECT, related_name="usage_reports")
    period = models.DateField(_("period"))
    idempotency_key = models.CharField(_("idempotency key"), max_length=200)
    body_sha256 = models.CharField(_("body hash"), max_length=64)
    status = models.CharField(_("status"), max_length=12, choices=ReportStatus.choices)
    late = models.BooleanField(
        _("late"), default=False, help_text=_("Reported after the period's statements were final: adjustments.")
    )
    adjusted_in = models.DateField(
        _("adjusted in"), null=True, blank=True,
        help_text=_("A late report: the period whose final statements carry its adjustments."),
    )  # fmt: skip
    events_received = models.PositiveIntegerField(_("events received"), default=0)
    events_accepted = models.PositiveIntegerField(_("events accepted"), default=0)
    events_rejected = models.PositiveIntegerField(_("events rejected"), default=0)
    events_unlicensed = models.PositiveIntegerField(_("events unlicensed"), default=0)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    failure = models.TextField(
        _("failure"),
        blank=True,
        default="",
        db_default="",
        help_text=_("Why processing in the background failed (status failed)."),
    )
    created_at = models.DateTimeField(_("received at"), auto_now_add=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("usage report")
        verbose_name_plural = _("usage reports")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["licensee", "idempotency_key"], name="%(app_label)s_%(class)s_idempotency"),
            models.CheckConstraint(condition=Q(period__day=1), name="%(app_label)s_%(class)s_period_first_day"),
            models.CheckConstraint(
                condition=Q(events_received=models.F("events_accepted") + models.F("events_rejected"))
                | Q(status="processing"),
                name="%(app_label)s_%(class)s_counts_add_up",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.licensee} {self.period:%Y-%m} ({self.status})"

    @property
    def failure_or_none(self) -> str | None:
        return self.failure or None


class UsageReportPayload(models.Model):
    """The body of a report processed in the background (gzip), kept until its events are stored."""

    report = models.OneToOneField(UsageReport, on_delete=models.CASCADE, primary_key=True, related_name="payload")
    content_type = models.CharField(max_length=100)
    body_gzip = models.BinaryField()

    def __str__(self) -> str:
        return f"payload of {self.report_id}"


class UsageEvent(models.Model):
    """One reported use. The table is partitioned by month (`period`) in PostgreSQL (licensing/sql/0009_usage.sql);
    Django reads it but never creates it."""

    id = models.BigIntegerField(primary_key=True)
    period = models.DateField(_("period"))
    report = models.ForeignKey(UsageReport, on_delete=models.DO_NOTHING, db_constraint=False, related_name="events")
    line = models.PositiveIntegerField(_("line"))
    licensee = models.ForeignKey(Licensee, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    work = models.ForeignKey(Work, on_delete=models.DO_NOTHING, db_constraint=False, related_name="usage_events")
    agreement = models.ForeignKey(
        Agreement, on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="usage_events"
    )
    use = models.CharField(_("use"), max_length=20, choices=Use.choices)
    quantity = models.BigIntegerField(_("quantity"))
    occurred_on = models.DateField(_("occurred on"))
    model = models.CharField(_("model"), max_length=200)
    territory = models.CharField(_("territory"), max_length=2)
    revenue_amount = models.BigIntegerField(_("revenue"), null=True)
    revenue_currency = models.CharField(_("revenue currency"), max_length=3, null=True)
    reserved = models.BooleanField(_("reserved"), default=False)
    late = models.BooleanField(_("late"), default=False)

    class Meta:
        managed = False
        db_table = "licensing_usageevent"
        verbose_name = _("usage event")
        verbose_name_plural = _("usage events")

    def __str__(self) -> str:
        return f"{self.work_id} {self.use} ×{self.quantity}"

    @property
    def licensed(self) -> bool:
        return self.agreement_id is not None
