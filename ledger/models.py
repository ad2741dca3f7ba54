"""Double-entry ledger. PostgreSQL keeps it sound whatever writes to it (sql/*.sql, loaded by migrations):

- every journal transaction balances per currency (deferred constraint trigger, checked at COMMIT);
- a posting's currency is its account's (composite foreign key);
- transactions and postings are never updated or deleted (triggers);
- idempotency keys are unique; the chain of hashes makes any later edit of history detectable (`verify_ledger`).

Amounts are signed integers in the currency's minor unit: debit positive, credit negative.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .choices import DEBIT_NORMAL, AccountKind, AccountPurpose, OwnerType
from .money import Money

GENESIS_HASH = "0" * 64


class Account(models.Model):
    code = models.CharField(_("code"), max_length=200, unique=True)
    name = models.CharField(_("name"), max_length=300)
    kind = models.CharField(_("kind"), max_length=16, choices=AccountKind.choices)
    purpose = models.CharField(_("purpose"), max_length=40, choices=AccountPurpose.choices)
    currency = models.CharField(_("currency"), max_length=3)
    owner_type = models.CharField(_("owner type"), max_length=16, choices=OwnerType.choices)
    owner_id = models.UUIDField(_("owner id"), null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner_type", "owner_id", "purpose", "currency"],
                nulls_distinct=False,
                name="%(app_label)s_%(class)s_one_per_owner_purpose_currency",
            ),
            models.CheckConstraint(
                condition=Q(owner_type=OwnerType.PLATFORM, owner_id__isnull=True)
                | (~Q(owner_type=OwnerType.PLATFORM) & Q(owner_id__isnull=False)),
                name="%(app_label)s_%(class)s_owner_id_iff_not_platform",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="%(app_label)s_%(class)s_currency_iso"
            ),
            models.CheckConstraint(condition=Q(kind__in=AccountKind.values), name="%(app_label)s_%(class)s_kind_valid"),
            # target of the composite foreign key (posting.account_id, posting.currency)
            models.UniqueConstraint(fields=["id", "currency"], name="%(app_label)s_%(class)s_id_currency"),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.currency})"

    @property
    def debit_normal(self) -> bool:
        return self.kind in DEBIT_NORMAL


class ChainHead(models.Model):
    """The single row holding the last transaction id and hash. Locking it serialises posting (the hash chain)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_id = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="%(app_label)s_%(class)s_single_row")]

    def __str__(self) -> str:
        return f"#{self.last_id} {self.last_hash[:12]}"


class JournalTransaction(models.Model):
    # The id is the transaction's position in the hash chain: 1, 2, 3… assigned under the chain-head lock.
    id = models.BigIntegerField(primary_key=True, editable=False)
    posted_at = models.DateTimeField(_("posted at"))
    effective_date = models.DateField(_("effective date"), db_index=True)
    memo = models.CharField(_("memo"), max_length=500, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=200)
    cause_type = models.CharField(_("cause type"), max_length=40, blank=True)
    cause_id = models.CharField(_("cause id"), max_length=64, blank=True)
    reverses = models.ForeignKey(
        "self",
        verbose_name=_("reverses"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversals",
    )
    previous_hash = models.CharField(_("previous hash"), max_length=64)
    hash = models.CharField(_("hash"), max_length=64)

    class Meta:
        verbose_name = _("journal transaction")
        verbose_name_plural = _("journal transactions")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="%(app_label)s_%(class)s_idempotency_key"),
            models.UniqueConstraint(fields=["hash"], name="%(app_label)s_%(class)s_hash_unique"),
            models.UniqueConstraint(
                fields=["reverses"],
                condition=Q(reverses__isnull=False),
                name="%(app_label)s_%(class)s_reversed_once",
            ),
            models.CheckConstraint(condition=Q(id__gt=0), name="%(app_label)s_%(class)s_id_positive"),
            models.CheckConstraint(
                condition=~Q(idempotency_key=""), name="%(app_label)s_%(class)s_idempotency_key_not_empty"
            ),
        ]
        indexes = [models.Index(fields=["cause_type", "cause_id"], name="ledger_txn_cause_idx")]

    def __str__(self) -> str:
        return f"#{self.id} {self.effective_date} {self.memo}".strip()


class Posting(models.Model):
    transaction = models.ForeignKey(
        JournalTransaction, verbose_name=_("transaction"), on_delete=models.PROTECT, related_name="postings"
    )
    # Existence and currency are enforced together by the composite key (account_id, currency) of sql/0002; a
    # second, single-column foreign key would only check the same thing again for every row.
    account = models.ForeignKey(
        Account,
        verbose_name=_("account"),
        on_delete=models.PROTECT,
        related_name="postings",
        db_constraint=False,
        db_index=False,
    )
    amount = models.BigIntegerField(_("amount"), help_text=_("Minor units; debit positive, credit negative."))
    currency = models.CharField(_("currency"), max_length=3)

    class Meta:
        verbose_name = _("posting")
        verbose_name_plural = _("postings")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="%(app_label)s_%(class)s_amount_not_zero"),
        ]
        indexes = [
            models.Index(fields=["account", "transaction"], name="ledger_posting_account_txn_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.account.code} {self.money}"

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)

    @property
    def debit(self) -> int:
        return self.amount if self.amount > 0 else 0

    @property
    def credit(self) -> int:
        return -self.amount if self.amount < 0 else 0
