"""The ledger in the admin: everything read-only; history is changed only by posting (reversals)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from .models import Account, JournalTransaction, Posting
from .money import Money


class ReadOnlyAdmin(admin.ModelAdmin):
    show_full_result_count = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "kind", "purpose", "currency", "owner_type", "debits", "credits", "balance"]
    list_filter = ["kind", "purpose", "currency", "owner_type"]
    search_fields = ["code", "name", "=owner_id"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                total_debits=Coalesce(Sum("postings__amount", filter=Q(postings__amount__gt=0)), 0),
                total_credits=Coalesce(-Sum("postings__amount", filter=Q(postings__amount__lt=0)), 0),
            )
        )

    @admin.display(description=_("debits"), ordering="total_debits")
    def debits(self, obj: Account) -> str:
        return Money(obj.total_debits, obj.currency).format()

    @admin.display(description=_("credits"), ordering="total_credits")
    def credits(self, obj: Account) -> str:
        return Money(obj.total_credits, obj.currency).format()

    @admin.display(description=_("balance (debit − credit)"))
    def balance(self, obj: Account) -> str:
        return Money(obj.total_debits - obj.total_credits, obj.currency).format()


class PostingInline(admin.TabularInline):
    model = Posting
    fields = ["account", "debit_display", "credit_display", "currency"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("debit"))
    def debit_display(self, obj: Posting) -> str:
        return Money(obj.debit, obj.currency).format() if obj.debit else ""

    @admin.display(description=_("credit"))
    def credit_display(self, obj: Posting) -> str:
        return Money(obj.credit, obj.currency).format() if obj.credit else ""


@admin.register(JournalTransaction)
class JournalTransactionAdmin(ReadOnlyAdmin):
    list_display = ["id", "effective_date", "memo", "cause_type", "cause_id", "reverses", "posted_at"]
    list_filter = ["cause_type", "effective_date"]
    search_fields = ["=id", "=idempotency_key", "memo", "=cause_id"]
    date_hierarchy = "effective_date"
    inlines = [PostingInline]
    readonly_fields = [
        "id", "posted_at", "effective_date", "memo", "idempotency_key", "cause_type", "cause_id", "reverses",
        "previous_hash", "hash",
    ]  # fmt: skip
    list_select_related = ["reverses"]
