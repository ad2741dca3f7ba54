"""Who owns what: rights holders, works (with their hierarchy and identifiers), shares and reservations."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from ..choices import AccountType, HolderKind, Use, WorkKind

USE_VALUES = [value for value, _label in Use.choices]


class RightsHolder(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=200)
    name_kana = models.CharField(
        _("name (kana)"), max_length=200, help_text=_("Half-width katakana, as printed on bank transfers.")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=HolderKind.choices)
    country = models.CharField(_("country"), max_length=2, default="JP")
    resident = models.BooleanField(_("resident in Japan"), default=True)
    invoice_registration_number = models.CharField(
        _("invoice registration number"),
        max_length=14,
        null=True,
        blank=True,
        unique=True,
        help_text=_("Qualified invoice issuer number: T followed by 13 digits."),
    )
    email = models.EmailField(_("email"), blank=True)
    postal_code = models.CharField(_("postal code"), max_length=10, blank=True)
    address = models.TextField(_("address"), blank=True)
    bank_code = models.CharField(_("bank code"), max_length=4, null=True, blank=True)
    branch_code = models.CharField(_("branch code"), max_length=3, null=True, blank=True)
    account_type = models.CharField(
        _("account type"), max_length=10, choices=AccountType.choices, null=True, blank=True
    )
    account_number = models.CharField(_("account number"), max_length=7, null=True, blank=True)
    account_holder_kana = models.CharField(_("account holder (kana)"), max_length=30, null=True, blank=True)
    minimum_payout_amount = models.BigIntegerField(_("minimum payout"), default=0)
    minimum_payout_currency = models.CharField(_("minimum payout currency"), max_length=3, default="JPY")
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="RightsHolderMember",
        related_name="rights_holders",
        verbose_name=_("users acting for it"),
        blank=True,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("rights holder")
        verbose_name_plural = _("rights holders")
        ordering = ["name"]
        permissions = [("platform_staff", _("Acts for the platform: sees every party's data"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    bank_code__isnull=True,
                    branch_code__isnull=True,
                    account_type__isnull=True,
                    account_number__isnull=True,
                    account_holder_kana__isnull=True,
                )
                | Q(
                    bank_code__regex=r"^\d{4}$",
                    branch_code__regex=r"^\d{3}$",
                    account_type__isnull=False,
                    account_number__regex=r"^\d{7}$",
                    account_holder_kana__isnull=False,
                ),
                name="%(app_label)s_%(class)s_bank_account_complete",
            ),
            models.CheckConstraint(
                condition=Q(invoice_registration_number__regex=r"^T\d{13}$")
                | Q(invoice_registration_number__isnull=True),
                name="%(app_label)s_%(class)s_invoice_number_format",
            ),
            models.CheckConstraint(
                condition=Q(minimum_payout_amount__gte=0), name="%(app_label)s_%(class)s_minimum_payout_not_negative"
            ),
            models.CheckConstraint(condition=Q(country__regex=r"^[A-Z]{2}$"), name="%(app_label)s_%(class)s_country"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_bank_account(self) -> bool:
        return self.bank_code is not None


class RightsHolderMember(models.Model):
    """A login that acts for a rights holder (the artist, or the publisher's rights desk)."""

    rights_holder = models.ForeignKey(RightsHolder, on_delete=models.CASCADE, verbose_name=_("rights holder"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, verbose_name=_("user"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("rights holder user")
        verbose_name_plural = _("rights holder users")
        constraints = [
            models.UniqueConstraint(fields=["rights_holder", "user"], name="%(app_label)s_%(class)s_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.rights_holder}"


class Work(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(_("kind"), max_length=20, choices=WorkKind.choices)
    title = models.CharField(_("title"), max_length=500)
    title_en = models.CharField(_("English title"), max_length=500, blank=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent work"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        help_text=_("The series of a volume or episode. A work without shares inherits its parent's."),
    )
    isbn = models.CharField(_("ISBN-13"), max_length=13, null=True, blank=True, unique=True)
    iscc = models.CharField(_("ISCC"), max_length=100, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("work")
        verbose_name_plural = _("works")
        ordering = ["title"]
        constraints = [
            models.CheckConstraint(condition=~Q(parent=models.F("id")), name="%(app_label)s_%(class)s_not_own_parent"),
            models.CheckConstraint(
                condition=Q(isbn__regex=r"^97[89]\d{10}$") | Q(isbn__isnull=True), name="%(app_label)s_%(class)s_isbn13"
            ),
        ]
        indexes = [
            models.Index(fields=["title", "id"], name="licensing_work_title_id"),
        ]

    def __str__(self) -> str:
        return self.title


class WorkIdentifier(models.Model):
    """An identifier the rights holder registered in its own scheme (`ext:<scheme>:<value>`)."""

    work = models.ForeignKey(Work, on_delete=models.CASCADE, related_name="external_ids", verbose_name=_("work"))
    scheme = models.CharField(_("scheme"), max_length=50)
    value = models.CharField(_("value"), max_length=200)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("external identifier")
        verbose_name_plural = _("external identifiers")
        constraints = [
            models.UniqueConstraint(fields=["scheme", "value"], name="%(app_label)s_%(class)s_unique"),
            models.CheckConstraint(
                condition=Q(scheme__regex=r"^[a-z0-9][a-z0-9._-]*$"), name="%(app_label)s_%(class)s_scheme_format"
            ),
        ]

    def __str__(self) -> str:
        return f"ext:{self.scheme}:{self.value}"


class Share(models.Model):
    """A rights holder's percentage of a work. A work's shares sum to exactly 100.00 (checked by PostgreSQL at
    COMMIT); a work with no shares inherits its parent's."""

    work = models.ForeignKey(Work, on_delete=models.CASCADE, related_name="shares", verbose_name=_("work"))
    rights_holder = models.ForeignKey(
        RightsHolder, on_delete=models.PROTECT, related_name="shares", verbose_name=_("rights holder")
    )
    share = models.DecimalField(_("share (%)"), max_digits=5, decimal_places=2)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("share")
        verbose_name_plural = _("shares")
        ordering = ["-share", "rights_holder_id"]
        constraints = [
            models.UniqueConstraint(fields=["work", "rights_holder"], name="%(app_label)s_%(class)s_one_per_holder"),
            models.CheckConstraint(condition=Q(share__gt=0, share__lte=100), name="%(app_label)s_%(class)s_range"),
        ]
        indexes = [models.Index(fields=["rights_holder", "work"], name="licensing_share_holder_work")]

    def __str__(self) -> str:
        return f"{self.rights_holder}: {self.share}%"


class Reservation(models.Model):
    """A rights holder's opt-out: these uses are never cleared for the work (and its children) or, without a
    work, for all its works, whatever an agreement says."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    rights_holder = models.ForeignKey(
        RightsHolder, on_delete=models.CASCADE, related_name="reservations", verbose_name=_("rights holder")
    )
    work = models.ForeignKey(
        Work, on_delete=models.CASCADE, null=True, blank=True, related_name="reservations", verbose_name=_("work")
    )
    uses = ArrayField(models.CharField(max_length=20, choices=Use.choices), verbose_name=_("uses"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    lifted_at = models.DateTimeField(_("lifted at"), null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("reservation")
        verbose_name_plural = _("reservations")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(uses__len__gt=0) & Q(uses__contained_by=USE_VALUES),
                name="%(app_label)s_%(class)s_uses_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["work"], condition=Q(lifted_at__isnull=True), name="licensing_resv_active_work"),
            models.Index(
                fields=["rights_holder"], condition=Q(lifted_at__isnull=True), name="licensing_resv_active_holder"
            ),
        ]

    def __str__(self) -> str:
        target = self.work or _("all works")
        return f"{self.rights_holder} / {target}: {', '.join(self.uses)}"

    @property
    def active(self) -> bool:
        return self.lifted_at is None
