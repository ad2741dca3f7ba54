"""Who licensed what: licensees (AI companies), agreements with their scope and terms, in versions."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from ..choices import AgreementStatus, Every, TermType, Use
from .catalogue import USE_VALUES, RightsHolder, Work


class Licensee(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=200)
    country = models.CharField(_("country"), max_length=2, help_text=_("Default territory of its reports."))
    email = models.EmailField(_("billing email"), blank=True)
    address = models.TextField(_("address"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("licensee")
        verbose_name_plural = _("licensees")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(country__regex=r"^[A-Z]{2}$"), name="%(app_label)s_%(class)s_country"),
        ]

    def __str__(self) -> str:
        return self.name


class Agreement(models.Model):
    """A license from the catalogue to one licensee. Terms of a version that statements were computed for are
    frozen: a change is a new version (same reference, version + 1) from a date, and the old one ends the day
    before."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    licensee = models.ForeignKey(
        Licensee, on_delete=models.PROTECT, related_name="agreements", verbose_name=_("licensee")
    )
    reference = models.CharField(_("reference"), max_length=100)
    version = models.PositiveIntegerField(_("version"), default=1)
    supersedes = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="superseded_by",
        verbose_name=_("supersedes"),
    )
    currency = models.CharField(_("currency"), max_length=3)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"), null=True, blank=True)
    territories = ArrayField(
        models.CharField(max_length=2), verbose_name=_("territories"), help_text=_('ISO 3166 codes, or "*" for all.')
    )
    uses = ArrayField(models.CharField(max_length=20, choices=Use.choices), verbose_name=_("uses"))
    scope_catalogue = models.BooleanField(_("whole catalogue"), default=False)
    scope_works = models.ManyToManyField(Work, blank=True, related_name="agreements", verbose_name=_("works in scope"))
    scope_rights_holders = models.ManyToManyField(
        RightsHolder, blank=True, related_name="agreements", verbose_name=_("rights holders in scope")
    )
    commission = models.DecimalField(
        _("commission (%)"), max_digits=5, decimal_places=2, default=0, help_text=_("The platform's commission.")
    )
    status = models.CharField(_("status"), max_length=12, choices=AgreementStatus.choices, default="draft")
    frozen_at = models.DateTimeField(
        _("terms frozen at"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("Set when statements are computed under this version; its terms never change after."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    history = HistoricalRecords(m2m_fields=[scope_works, scope_rights_holders])

    class Meta:
        verbose_name = _("agreement")
        verbose_name_plural = _("agreements")
        ordering = ["-starts_on", "reference", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["licensee", "reference", "version"], name="%(app_label)s_%(class)s_version"
            ),
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=models.F("starts_on")),
                name="%(app_label)s_%(class)s_dates",
            ),
            models.CheckConstraint(
                condition=Q(uses__len__gt=0) & Q(uses__contained_by=USE_VALUES),
                name="%(app_label)s_%(class)s_uses_valid",
            ),
            models.CheckConstraint(condition=Q(territories__len__gt=0), name="%(app_label)s_%(class)s_territories"),
            models.CheckConstraint(
                condition=Q(commission__gte=0, commission__lte=100), name="%(app_label)s_%(class)s_commission_range"
            ),
            models.CheckConstraint(
                condition=Q(status__in=AgreementStatus.values), name="%(app_label)s_%(class)s_status_valid"
            ),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="%(app_label)s_%(class)s_currency"),
        ]
        indexes = [
            models.Index(fields=["status", "starts_on"], name="licensing_agreement_status"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} v{self.version}" if self.version > 1 else self.reference

    @property
    def frozen(self) -> bool:
        return self.frozen_at is not None


class Term(models.Model):
    """One royalty term of an agreement (RULES.md, Terms). Money in the agreement's currency, minor units."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    agreement = models.ForeignKey(
        Agreement, on_delete=models.CASCADE, related_name="terms", verbose_name=_("agreement")
    )
    type = models.CharField(_("type"), max_length=20, choices=TermType.choices)
    use = models.CharField(_("use"), max_length=20, choices=Use.choices, null=True, blank=True)
    rate = models.DecimalField(
        _("rate per unit"),
        max_digits=24,
        decimal_places=6,
        null=True,
        blank=True,
        help_text=_("per_unit: price per unit, in major units of the agreement's currency."),
    )
    percent = models.DecimalField(_("percent"), max_digits=9, decimal_places=6, null=True, blank=True)
    amount = models.BigIntegerField(
        _("amount"), null=True, blank=True, help_text=_("Fee, guarantee or advance, in minor units.")
    )
    every = models.CharField(_("every"), max_length=8, choices=Every.choices, null=True, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("term")
        verbose_name_plural = _("terms")
        ordering = ["agreement", "position"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(
                        type="per_unit",
                        use__isnull=False,
                        rate__gte=0,
                        percent__isnull=True,
                        amount__isnull=True,
                        every__isnull=True,
                    )
                    | Q(
                        type="per_work",
                        use__isnull=False,
                        amount__gt=0,
                        rate__isnull=True,
                        percent__isnull=True,
                        every__isnull=True,
                    )
                    | Q(
                        type="revenue_share",
                        use__isnull=False,
                        percent__gt=0,
                        percent__lte=100,
                        rate__isnull=True,
                        amount__isnull=True,
                        every__isnull=True,
                    )
                    | Q(type="flat_fee", amount__gt=0, every__isnull=False, rate__isnull=True, percent__isnull=True)
                    | Q(
                        type="minimum_guarantee",
                        amount__gt=0,
                        every__isnull=False,
                        rate__isnull=True,
                        percent__isnull=True,
                    )
                    | Q(type="advance", amount__gt=0, every__isnull=True, rate__isnull=True, percent__isnull=True)
                ),
                name="%(app_label)s_%(class)s_fields_of_type",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.use or ''}".strip()
