"""Payout batches in the admin: finance creates a batch (the add form), downloads its transfer file, confirms it
and records returned transfers; staff read; a rights holder sees its own transfers. Every step goes through
payouts.batches, which keeps the audit history (PayoutEvent)."""

from __future__ import annotations

from functools import partial

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ledger.money import MoneyError, validate_currency
from licensing.admin import access_of

from . import batches
from .admin import HolderScoped, RecordsAdmin, _money
from .models import BatchStatus, ItemStatus, PayoutBatch, PayoutEvent, PayoutItem


def _finance(request, permission: str) -> bool:
    return access_of(request).is_staff and request.user.has_perm(f"payouts.{permission}")


class PayoutBatchForm(forms.ModelForm):
    class Meta:
        model = PayoutBatch
        fields = ["pay_date", "currency"]
        help_texts = {
            "pay_date": _("The transfer date written in the bank file (today or later)."),
            "currency": _("JPY batches export a Zengin file; other currencies a CSV transfer list."),
        }

    def clean_currency(self):
        try:
            return validate_currency((self.cleaned_data.get("currency") or "").strip().upper())
        except MoneyError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        problems = batches.batch_input_problems(cleaned["currency"], cleaned["pay_date"])
        if problems:
            raise forms.ValidationError(problems)  # field → messages: each shown at its field
        if not batches.due_statements_exist(cleaned["currency"]):
            raise forms.ValidationError(
                _("No final, unpaid statement in %(currency)s is due for payment.") % {"currency": cleaned["currency"]}
            )
        return cleaned


class PayoutItemInline(admin.TabularInline):
    model = PayoutItem
    fk_name = "batch"
    extra = 0
    can_delete = False
    fields = ["rights_holder", "period", "status", "amount_label", "withholding_label", "account", "blocked_reason",
              "returned_on", "returned_reason"]  # fmt: skip
    readonly_fields = fields
    ordering = ["status", "id"]

    verbose_name_plural = _("blocked and returned transfers")

    def get_queryset(self, request):
        # the ones needing attention: a batch has up to tens of thousands of transfers, listed under Payout items
        return (super().get_queryset(request).filter(status__in=[ItemStatus.BLOCKED, ItemStatus.RETURNED])
                .select_related("rights_holder", "statement"))  # fmt: skip

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("period"))
    def period(self, item) -> str:
        return f"{item.statement.period:%Y-%m}"

    @admin.display(description=_("amount"))
    def amount_label(self, item) -> str:
        return _money(item.amount, item.currency)

    @admin.display(description=_("withholding tax"))
    def withholding_label(self, item) -> str:
        return _money(item.withholding_tax, item.currency)

    @admin.display(description=_("account"))
    def account(self, item) -> str:
        if not item.bank_code:
            return "—"
        return (
            f"{item.bank_code}-{item.branch_code} {item.account_type} {item.account_number} {item.account_holder_kana}"
        )


class PayoutEventInline(admin.TabularInline):
    model = PayoutEvent
    fk_name = "batch"
    extra = 0
    can_delete = False
    fields = ["at", "kind", "actor", "item", "detail"]
    readonly_fields = fields
    verbose_name_plural = _("audit history")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(PayoutBatch)
class PayoutBatchAdmin(admin.ModelAdmin):
    form = PayoutBatchForm
    list_display = ["pay_date", "currency", "status", "transfers", "total_label", "blocked", "created_by",
                    "exported_at", "confirmed_at"]  # fmt: skip
    list_filter = ["status", "currency", "pay_date"]
    readonly_fields = ["pay_date", "currency", "status", "transfers_link", "total_label", "blocked", "created_by",
                       "created_at", "exported_at", "confirmed_at", "cancelled_at"]  # fmt: skip
    inlines = [PayoutItemInline, PayoutEventInline]
    actions = ["download_file", "confirm", "cancel"]

    def get_fields(self, request, obj=None):
        return ["pay_date", "currency"] if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_inlines(self, request, obj):
        return [] if obj is None else self.inlines

    def has_view_permission(self, request, obj=None) -> bool:
        return access_of(request).is_staff and super().has_view_permission(request, obj)

    def has_module_permission(self, request) -> bool:
        return self.has_view_permission(request)

    def has_add_permission(self, request) -> bool:
        return _finance(request, "add_payoutbatch")

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a batch changes only through its actions

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_export_permission(self, request) -> bool:
        return _finance(request, "export_payoutbatch")

    def has_confirm_permission(self, request) -> bool:
        return _finance(request, "confirm_payoutbatch")

    def has_cancel_permission(self, request) -> bool:
        return _finance(request, "add_payoutbatch")

    @admin.display(description=_("total"), ordering="total")
    def total_label(self, obj) -> str:
        return _money(obj.total, obj.currency)

    @admin.display(description=_("transfers"))
    def transfers_link(self, obj) -> str:
        url = reverse("admin:payouts_payoutitem_changelist")
        return format_html('<a href="{}?batch__id__exact={}">{}</a>', url, obj.pk, obj.transfers)

    def save_model(self, request, obj, form, change):
        if change:
            return
        try:
            batch = batches.payout_batch_create(currency=obj.currency, pay_date=obj.pay_date, created_by=request.user)
        except batches.PayoutInvalid as exc:
            for problem in exc.problems:
                self.message_user(request, problem, messages.ERROR)
            return
        except batches.PayoutRefused as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        obj.__dict__.update({f.attname: getattr(batch, f.attname) for f in PayoutBatch._meta.concrete_fields})
        obj._state.adding = False
        if batch.blocked:
            self.message_user(
                request,
                _("%(n)d statement(s) are blocked: see the reasons below.") % {"n": batch.blocked},
                messages.WARNING,
            )

    def response_add(self, request, obj, post_url_continue=None):
        if obj.pk is None or not PayoutBatch.objects.filter(pk=obj.pk).exists():
            return self.response_post_save_add(request, obj)
        return super().response_add(request, obj, post_url_continue)

    def log_addition(self, request, obj, message):
        if obj.pk is not None and PayoutBatch.objects.filter(pk=obj.pk).exists():
            return super().log_addition(request, obj, message)
        return None

    @admin.action(description=_("Download the transfer file (Zengin for JPY, CSV otherwise)"), permissions=["export"])
    def download_file(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, _("Select one batch to download its file."), messages.ERROR)
            return None
        try:
            filename, content_type, content = batches.payout_batch_export(batch=queryset.get(), actor=request.user)
        except batches.PayoutInvalid as exc:
            for problem in exc.problems:
                self.message_user(request, problem, messages.ERROR)
            return None
        except batches.PayoutRefused as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return None
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @admin.action(description=_("Confirm as paid (post to the ledger)"), permissions=["confirm"])
    def confirm(self, request, queryset):
        self._each(request, queryset, batches.payout_batch_confirm, _("Batch %(batch)s is confirmed as paid."))

    @admin.action(description=_("Cancel (the file was not sent to the bank)"), permissions=["cancel"])
    def cancel(self, request, queryset):
        exported = queryset.filter(status=BatchStatus.EXPORTED)
        if not exported.exists():
            self._each(request, queryset, batches.payout_batch_cancel, _("Batch %(batch)s is cancelled."))
            return None
        form = CancelForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            service = partial(batches.payout_batch_cancel, file_not_sent=form.cleaned_data["file_not_sent"],
                              reason=form.cleaned_data["reason"])  # fmt: skip
            self._each(request, queryset, service, _("Batch %(batch)s is cancelled."))
            return None
        return TemplateResponse(
            request,
            "admin/payouts/confirm_action.html",
            {**self.admin_site.each_context(request), "title": _("Cancel exported payout batches"),
             "intro": _("The transfer files of these batches were exported. Cancel them only if no file was sent to "
                        "the bank: their statements go into the next batch, and a file the bank already has would "
                        "pay them twice."),
             "form": form, "objects": queryset, "opts": self.model._meta, "action": "cancel",
             "submit": _("Cancel the batches"), "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME},
        )  # fmt: skip

    def _each(self, request, queryset, service, done) -> None:
        for batch in queryset.order_by("pay_date"):
            try:
                service(batch=batch, actor=request.user)
            except (batches.PayoutInvalid, batches.PayoutRefused) as exc:
                self.message_user(request, f"{batch}: {exc}", messages.ERROR)
            else:
                self.message_user(request, done % {"batch": batch}, messages.SUCCESS)


class CancelForm(forms.Form):
    file_not_sent = forms.BooleanField(label=_("The file was not sent to the bank"), required=True)
    reason = forms.CharField(label=_("Why the batch is cancelled"), max_length=batches.MAX_REASON,
                             widget=forms.Textarea(attrs={"rows": 3}))  # fmt: skip


class ReturnForm(forms.Form):
    reason = forms.CharField(label=_("Why the bank returned it"), max_length=batches.MAX_REASON,
                             widget=forms.Textarea(attrs={"rows": 3}))  # fmt: skip
    returned_on = forms.DateField(label=_("Returned on"), initial=timezone.localdate)


@admin.register(PayoutItem)
class PayoutItemAdmin(HolderScoped):
    """Transfers: staff see all; a rights holder its own (blocked ones with the reason, to fix its account)."""

    list_display = ["rights_holder", "period", "currency", "status", "amount_label", "withholding_label", "batch",
                    "blocked_reason"]  # fmt: skip
    list_filter = ["status", "currency", "batch__pay_date"]
    search_fields = ["rights_holder__name", "rights_holder__name_kana", "account_holder_kana"]
    list_select_related = ["rights_holder", "statement", "batch"]
    readonly_fields = ["batch", "statement", "rights_holder", "currency", "status", "amount", "withholding_tax",
                       "blocked_reason", "bank_code", "branch_code", "account_type", "account_number",
                       "account_holder_kana", "paid_at", "returned_on", "returned_reason"]  # fmt: skip
    actions = ["record_return"]

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(status=ItemStatus.CANCELLED)

    def lookup_allowed(self, lookup, value, request=None) -> bool:
        return lookup == "batch__id__exact" or super().lookup_allowed(lookup, value, request)

    def has_return_permission(self, request) -> bool:
        return _finance(request, "confirm_payoutbatch")

    @admin.display(description=_("period"), ordering="statement__period")
    def period(self, item) -> str:
        return f"{item.statement.period:%Y-%m}"

    @admin.display(description=_("amount"), ordering="amount")
    def amount_label(self, item) -> str:
        return _money(item.amount, item.currency)

    @admin.display(description=_("withholding tax"))
    def withholding_label(self, item) -> str:
        return _money(item.withholding_tax, item.currency)

    @admin.action(description=_("Record a transfer returned by the bank"), permissions=["return"])
    def record_return(self, request, queryset):
        form = ReturnForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            for item in queryset:
                try:
                    batches.payout_item_return(item=item, reason=form.cleaned_data["reason"],
                                               returned_on=form.cleaned_data["returned_on"],
                                               actor=request.user)  # fmt: skip
                except (batches.PayoutInvalid, batches.PayoutRefused) as exc:
                    self.message_user(request, f"{item}: {exc}", messages.ERROR)
                else:
                    self.message_user(request, _("%(item)s: the transfer is reversed.") % {"item": item},
                                      messages.SUCCESS)  # fmt: skip
            return None
        return TemplateResponse(
            request,
            "admin/payouts/confirm_action.html",
            {**self.admin_site.each_context(request), "title": _("Record a transfer returned by the bank"),
             "intro": _("The payment of each transfer below is reversed in the ledger: the rights holder is owed the "
                        "amount again and its statements are unpaid, ready for another batch."),
             "form": form, "objects": queryset, "opts": self.model._meta, "action": "record_return",
             "submit": _("Record the return"), "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME},
        )  # fmt: skip


@admin.register(PayoutEvent)
class PayoutEventAdmin(RecordsAdmin):
    """The audit history of payouts: who created, exported, confirmed, cancelled, recorded a return."""

    list_display = ["at", "kind", "batch", "item", "actor"]
    list_filter = ["kind"]
    list_select_related = ["batch", "actor"]
    readonly_fields = ["at", "kind", "batch", "item", "actor", "detail"]

    def has_view_permission(self, request, obj=None) -> bool:
        return access_of(request).is_staff

    def has_module_permission(self, request) -> bool:
        return self.has_view_permission(request)
