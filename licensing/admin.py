"""The admin for three roles: platform staff (everything), finance (reads the catalogue; statements, payouts and
the ledger), and rights holders' users, who see and edit only their own holder, works, shares and reservations,
and read the agreements that cover their works."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.http import Http404, HttpResponseRedirect
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportMixin
from import_export.formats.base_formats import CSV, XLSX
from simple_history.admin import SimpleHistoryAdmin

from config.admin_tools import EstimatedCountPaginator
from ledger.money import Money, MoneyError, validate_currency

from . import selectors
from .choices import AgreementStatus
from .models import (
    Agreement,
    ApiKey,
    Licensee,
    ReportingPeriod,
    Reservation,
    RightsHolder,
    RightsHolderMember,
    Share,
    Term,
    UsageEvent,
    UsageReport,
    Work,
    WorkIdentifier,
)
from .principals import Access
from .services import (
    Errors,
    api_key_create,
    api_key_revoke,
    co_owners_changed,
    integrity_error,
    reservation_lift,
    terminates_running,
    validate_terms,
)
from .usage import usage_report_process_again
from .validators import (
    normalize_isbn,
    normalize_iscc,
    validate_bank_branch,
    validate_country,
    validate_invoice_registration_number,
    validate_kana,
)

admin.site.site_header = _("rights-ledger")
admin.site.site_title = _("rights-ledger")
admin.site.index_title = _("Licensing and compensation for creative works used by AI")


def _currency(value: str) -> str:
    try:
        return validate_currency((value or "").upper())
    except MoneyError as exc:
        raise ValidationError(str(exc)) from None


def access_of(request) -> Access:
    if not hasattr(request, "_access"):
        request._access = Access(request.user)
    return request._access


class ScopedAdmin(SimpleHistoryAdmin):
    """Staff see every row; a rights holder's user only what `visible()` returns for it."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50

    def visible(self, queryset, access: Access):
        return queryset.none()

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        access = access_of(request)
        return queryset if access.is_staff else self.visible(queryset, access)

    def _visible_or_404(self, request, object_id) -> None:
        try:
            found = self.get_queryset(request).filter(pk=object_id).exists()
        except (ValueError, ValidationError):
            found = False
        if not found:
            raise Http404

    def history_view(self, request, object_id, extra_context=None):
        self._visible_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._visible_or_404(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except IntegrityError as exc:
            for message in integrity_error(exc).messages:
                self.message_user(request, message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """A rule PostgreSQL enforces at COMMIT that the forms did not catch first: the whole save is rolled back
        and the person sees why, never a server error."""
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except IntegrityError as exc:
            for message in integrity_error(exc).messages:
                self.message_user(request, message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


# rights holders ----------------------------------------------------------------------------------------------------
class RightsHolderForm(forms.ModelForm):
    class Meta:
        model = RightsHolder
        fields = [
            "name", "name_kana", "kind", "country", "resident", "invoice_registration_number", "email", "postal_code",
            "address", "bank_code", "branch_code", "account_type", "account_number", "account_holder_kana",
            "minimum_payout_amount", "minimum_payout_currency",
        ]  # fmt: skip

    def clean_name_kana(self):
        return validate_kana(self.cleaned_data["name_kana"], max_length=200)

    def clean_country(self):
        return validate_country(self.cleaned_data["country"])

    def clean_invoice_registration_number(self):
        value = self.cleaned_data.get("invoice_registration_number")
        return validate_invoice_registration_number(value) if value else None

    def clean_minimum_payout_currency(self):
        return _currency(self.cleaned_data["minimum_payout_currency"])

    def clean_account_holder_kana(self):
        value = self.cleaned_data.get("account_holder_kana")
        return validate_kana(value, max_length=30) if value else None

    def clean_account_number(self):
        value = self.cleaned_data.get("account_number")
        if value and (not value.isdigit() or len(value) > 7):
            raise ValidationError(_("An account number is 1 to 7 digits."))
        return value.zfill(7) if value else None

    def clean(self):
        data = super().clean()
        bank_fields = ["bank_code", "branch_code", "account_type", "account_number", "account_holder_kana"]
        present = [field for field in bank_fields if data.get(field)]
        if present and len(present) != len(bank_fields):
            for field in set(bank_fields) - set(present):
                self.add_error(field, _("Complete the bank account, or leave all of it empty."))
        elif present:
            try:
                validate_bank_branch(data["bank_code"], data["branch_code"])
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    self.add_error(field, errors)
        else:
            for field in bank_fields:
                data[field] = None
        return data


class RightsHolderMemberInline(admin.TabularInline):
    model = RightsHolderMember
    autocomplete_fields = ["user"]
    extra = 0
    verbose_name = _("user acting for this rights holder")
    verbose_name_plural = _("users acting for this rights holder")


@admin.register(RightsHolder)
class RightsHolderAdmin(ScopedAdmin):
    form = RightsHolderForm
    list_display = ["name", "name_kana", "kind", "country", "resident", "invoice_registration_number", "bank_ready"]
    list_filter = ["kind", "resident", "country"]
    search_fields = ["name", "name_kana", "=invoice_registration_number"]
    ordering = ["name", "id"]
    inlines = [RightsHolderMemberInline]
    fieldsets = [
        (None, {"fields": ["name", "name_kana", "kind", "country", "resident", "invoice_registration_number"]}),
        (_("Contact"), {"fields": ["email", "postal_code", "address"]}),
        (
            _("Bank account for payouts"),
            {"fields": ["bank_code", "branch_code", "account_type", "account_number", "account_holder_kana",
                        "minimum_payout_amount", "minimum_payout_currency"]},
        ),
    ]  # fmt: skip

    def visible(self, queryset, access):
        return queryset.filter(pk__in=access.holder_ids)

    def get_inlines(self, request, obj):
        return self.inlines if access_of(request).is_staff else []

    def get_readonly_fields(self, request, obj=None):
        if access_of(request).is_staff:
            return []
        return ["kind", "country", "resident", "minimum_payout_currency"]

    def get_search_results(self, request, queryset, search_term):
        if not search_term:
            return queryset, False
        exact = queryset.filter(invoice_registration_number=search_term.strip().upper())
        return selectors.rights_holder_search(queryset, search_term) | exact, False

    @admin.display(description=_("bank account"), boolean=True)
    def bank_ready(self, obj: RightsHolder) -> bool:
        return obj.has_bank_account


# works -------------------------------------------------------------------------------------------------------------
class ShareFormSet(forms.BaseInlineFormSet):
    """The shares of a work sum to exactly 100.00 (or there are none and the parent's apply)."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        kept = [form for form in self.forms if form.cleaned_data and not form.cleaned_data.get("DELETE")]
        total = sum((form.cleaned_data["share"] for form in kept), Decimal(0))
        holders = [form.cleaned_data["rights_holder"].pk for form in kept]
        if len(holders) != len(set(holders)):
            raise ValidationError(_("A rights holder is listed twice."))
        parent = getattr(self.instance, "parent", None) if self.instance else None
        if not kept and parent is None:
            raise ValidationError(_("A work without a parent needs shares summing to 100.00%."))
        if kept and total != Decimal(100):
            raise ValidationError(
                _("The shares sum to %(total)s%%; they must sum to exactly 100.00%%.") % {"total": f"{total:.2f}"}
            )
        access = getattr(self, "access", None)
        if access is not None and access.is_holder:
            if kept and not set(holders) & access.holder_ids:
                raise ValidationError(_("Your own rights holder must keep a share of the work."))
            new_shares = {form.cleaned_data["rights_holder"].pk: form.cleaned_data["share"] for form in kept}
            if self.has_changed() and co_owners_changed(work=self.instance, new_shares=new_shares, access=access):
                raise ValidationError(_("Only platform staff can change or remove another rights holder's share."))


class ShareInline(admin.TabularInline):
    model = Share
    formset = ShareFormSet
    autocomplete_fields = ["rights_holder"]
    extra = 1
    min_num = 0

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.access = access_of(request)
        return formset


class WorkIdentifierInline(admin.TabularInline):
    model = WorkIdentifier
    extra = 0


class WorkForm(forms.ModelForm):
    class Meta:
        model = Work
        fields = ["title", "title_en", "kind", "parent", "isbn", "iscc"]

    def clean_isbn(self):
        value = self.cleaned_data.get("isbn")
        return normalize_isbn(value) if value else None

    def clean_iscc(self):
        value = self.cleaned_data.get("iscc")
        return normalize_iscc(value) if value else None

    def clean_parent(self):
        parent = self.cleaned_data.get("parent")
        if parent is not None and self.instance.pk:
            node, seen = parent, set()
            while node is not None and node.pk not in seen:
                if node.pk == self.instance.pk:
                    raise ValidationError(_("A work cannot be its own ancestor."))
                seen.add(node.pk)
                node = node.parent
        return parent


@admin.register(Work)
class WorkAdmin(ImportMixin, ScopedAdmin):
    form = WorkForm
    list_display = ["title", "title_en", "kind", "isbn", "parent"]
    list_filter = ["kind"]
    list_select_related = ["parent"]
    search_fields = ["title", "title_en", "=isbn"]
    search_help_text = _("Part of the Japanese or English title, an ISBN, or a work reference (isbn:…, ext:…).")
    ordering = ["title", "id"]
    autocomplete_fields = ["parent"]
    inlines = [ShareInline, WorkIdentifierInline]
    readonly_fields = ["reserved", "effective_owners"]
    fields = ["title", "title_en", "kind", "parent", "isbn", "iscc", "reserved", "effective_owners"]
    import_formats = [CSV, XLSX]

    def get_resource_classes(self, request=None):
        from .imports import WorkResource

        return [WorkResource]

    def get_import_resource_kwargs(self, request, **kwargs):
        return {**super().get_import_resource_kwargs(request, **kwargs), "access": access_of(request)}

    def visible(self, queryset, access):
        if not access.holder_ids:
            return queryset.none()
        return queryset.filter(pk__in=selectors.owned_work_ids_sql(access.holder_ids))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        access = access_of(request)
        if db_field.name == "parent" and not access.is_staff:
            kwargs["queryset"] = self.visible(Work.objects.all(), access)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_search_results(self, request, queryset, search_term):
        if not search_term:
            return queryset, False
        term = search_term.strip()
        found = selectors.work_search(queryset, term)
        digits = term.replace("-", "").replace(" ", "")
        if digits.isdigit() and len(digits) in (10, 13):
            reference = selectors.work_reference_filter(f"isbn:{digits}")
            if reference is not None:
                found = found | queryset.filter(reference)
        return found, False

    @admin.display(description=_("reserved (opt-out)"), boolean=True)
    def reserved(self, obj: Work) -> bool:
        return bool(obj.pk) and obj.pk in selectors.reserved_work_ids([obj.pk])

    @admin.display(description=_("effective owners"))
    def effective_owners(self, obj: Work) -> str:
        if not obj.pk:
            return "—"
        shares = selectors.effective_shares([obj.pk]).get(obj.pk, [])
        names = dict(RightsHolder.objects.filter(pk__in=[h for h, _s, _o in shares]).values_list("pk", "name"))
        inherited = any(owner != obj.pk for _h, _s, owner in shares)
        text = ", ".join(f"{names.get(h, h)} {s:.2f}%" for h, s, _o in shares) or "—"
        note = gettext("inherited from the parent")
        return f"{text} ({note})" if inherited else text

    def has_import_permission(self, request):
        return self.has_add_permission(request)


# reservations ------------------------------------------------------------------------------------------------------
class ReservationForm(forms.ModelForm):
    uses = forms.MultipleChoiceField(
        label=_("uses"), choices=Reservation._meta.get_field("uses").base_field.choices,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip

    class Meta:
        model = Reservation
        fields = ["rights_holder", "work", "uses"]

    def clean(self):
        data = super().clean()
        holder, work = data.get("rights_holder"), data.get("work")
        if holder and work and not selectors.work_is_owned_by(work=work, holder_ids=[holder.pk]):
            self.add_error("work", _("This rights holder has no share of that work."))
        return data


@admin.register(Reservation)
class ReservationAdmin(ScopedAdmin):
    form = ReservationForm
    list_display = ["rights_holder", "work_or_all", "uses_display", "created_at", "lifted_at"]
    list_filter = [("lifted_at", admin.EmptyFieldListFilter)]
    list_select_related = ["rights_holder", "work"]
    autocomplete_fields = ["rights_holder", "work"]
    actions = ["lift"]
    ordering = ["-created_at"]

    def visible(self, queryset, access):
        return queryset.filter(rights_holder_id__in=access.holder_ids)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        access = access_of(request)
        if not access.is_staff and db_field.name == "rights_holder":
            kwargs["queryset"] = RightsHolder.objects.filter(pk__in=access.holder_ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_delete_permission(self, request, obj=None):
        return False  # reservations are lifted, never erased: the history shows what was reserved when

    @admin.display(description=_("work"))
    def work_or_all(self, obj: Reservation) -> str:
        return str(obj.work) if obj.work_id else gettext("all its works")

    @admin.display(description=_("uses"))
    def uses_display(self, obj: Reservation) -> str:
        return ", ".join(obj.uses)

    @admin.action(description=_("Lift the selected reservations"), permissions=["change"])
    def lift(self, request, queryset):
        count = 0
        for reservation in queryset.filter(lifted_at__isnull=True):
            reservation_lift(reservation=reservation)  # one by one: each lift is in the history
            count += 1
        self.message_user(request, _("%(count)d reservation(s) lifted.") % {"count": count}, messages.SUCCESS)


# licensees and agreements ------------------------------------------------------------------------------------------
@admin.register(Licensee)
class LicenseeAdmin(ScopedAdmin):
    list_display = ["name", "country", "email", "created_at"]
    search_fields = ["name"]
    ordering = ["name", "id"]

    def visible(self, queryset, access):
        if not access.holder_ids:
            return queryset.none()
        covering = selectors.agreements_covering_holders(Agreement.objects.all(), access.holder_ids)
        return queryset.filter(pk__in=covering.values("licensee_id"))


class TermFormSet(forms.BaseInlineFormSet):
    """Each term has the fields of its type, in the agreement's currency and uses; a frozen agreement's terms
    do not change."""

    def clean(self):
        super().clean()
        agreement = self.instance
        if agreement.pk and agreement.frozen and self.has_changed():
            raise ValidationError(_("Statements exist for this agreement: change it with a new version."))
        if any(self.errors) or not agreement.currency:
            return
        kept = [form for form in self.forms if form.cleaned_data and not form.cleaned_data.get("DELETE")]
        items = []
        for form in kept:
            data = form.cleaned_data
            money = Money(data["amount"], agreement.currency) if data.get("amount") is not None else None
            money_key = "fee" if data.get("type") in ("per_work", "flat_fee") else "amount"
            items.append({**{k: data.get(k) for k in ("type", "use", "rate", "percent", "every")}, money_key: money})
        errors = Errors()
        validate_terms(items, agreement.currency, agreement.uses or [], errors)
        for field, messages_ in errors.errors.items():
            index, _dot, name = field.partition("].")
            if field.startswith("terms[") and index[6:].isdigit():
                form = kept[int(index[6:])]
                target = {"fee": "amount"}.get(name, name)
                form.add_error(target if target in form.fields else None, messages_)
            else:
                raise ValidationError(messages_)


class TermInline(admin.TabularInline):
    model = Term
    formset = TermFormSet
    extra = 0
    fields = ["type", "use", "rate", "percent", "amount", "every", "position"]


class AgreementForm(forms.ModelForm):
    class Meta:
        model = Agreement
        fields = [
            "licensee", "reference", "version", "supersedes", "currency", "starts_on", "ends_on", "territories",
            "uses", "scope_catalogue", "scope_works", "scope_rights_holders", "commission", "status",
        ]  # fmt: skip

    def clean(self):
        data = super().clean()
        if self.instance.pk and self.instance.frozen:
            changed = set(self.changed_data) - {"status", "ends_on"}
            if changed:
                raise ValidationError(
                    _(
                        "Statements exist for this agreement: its terms change only through a new version (API: "
                        "PATCH with effective_from)."
                    )
                )
        today = timezone.localdate()
        if (
            self.instance.pk
            and (not data.get("ends_on") or data["ends_on"] > today)
            and terminates_running(self.instance, {"status": data.get("status")})
        ):  # it ran until today: its fixed fees stop after this month (as through the API)
            data["ends_on"] = today
        territories = data.get("territories") or []
        try:
            data["territories"] = [validate_country(t, allow_any=True) for t in territories]
        except ValidationError as exc:
            self.add_error("territories", exc)
        if data.get("currency"):
            try:
                data["currency"] = _currency(data["currency"])
            except ValidationError as exc:
                self.add_error("currency", exc)
        starts_on, ends_on = data.get("starts_on"), data.get("ends_on")
        if data.get("licensee") and data.get("reference") and starts_on and (ends_on is None or ends_on >= starts_on):
            others = Agreement.objects.filter(licensee=data["licensee"], reference=data["reference"]).exclude(
                pk=self.instance.pk
            )
            for other in others:
                if other.starts_on <= (ends_on or other.starts_on.max) and starts_on <= (
                    other.ends_on or starts_on.max
                ):
                    self.add_error("starts_on", _("This version overlaps another version of the agreement."))
                    break
        return data


@admin.register(Agreement)
class AgreementAdmin(ScopedAdmin):
    form = AgreementForm
    list_display = ["reference", "version", "licensee", "status", "currency", "starts_on", "ends_on", "frozen"]
    list_filter = ["status", "currency", "scope_catalogue"]
    list_select_related = ["licensee"]
    search_fields = ["reference", "licensee__name"]
    autocomplete_fields = ["licensee", "scope_works", "scope_rights_holders", "supersedes"]
    inlines = [TermInline]
    ordering = ["-starts_on", "reference", "-version", "id"]

    def visible(self, queryset, access):
        if not access.holder_ids:
            return queryset.none()
        return selectors.agreements_covering_holders(queryset, access.holder_ids)

    @admin.display(description=_("frozen"), boolean=True)
    def frozen(self, obj: Agreement) -> bool:
        return obj.frozen

    def get_readonly_fields(self, request, obj=None):
        return ["frozen_at"] if obj is None or not obj.frozen else ["frozen_at", "currency", "starts_on", "commission"]

    def has_delete_permission(self, request, obj=None):
        if obj is not None and (obj.frozen or obj.status != AgreementStatus.DRAFT):
            return False
        return super().has_delete_permission(request, obj)


# API keys ----------------------------------------------------------------------------------------------------------
class ApiKeyForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["name", "user", "licensee", "expires_at"]

    def clean(self):
        data = super().clean()
        if bool(data.get("user")) == bool(data.get("licensee")):
            raise ValidationError(_("A key belongs to exactly one user or one licensee."))
        return data


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = ["name", "prefix", "owner", "created_at", "expires_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "=prefix", "user__username", "licensee__name"]
    autocomplete_fields = ["user", "licensee"]
    readonly_fields = ["prefix", "created_at", "revoked_at"]
    actions = ["revoke"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "licensee")

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields + (["name", "user", "licensee", "expires_at"] if obj else [])

    @admin.display(description=_("owner"))
    def owner(self, obj: ApiKey) -> str:
        return str(obj.licensee or obj.user)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        api_key, key = api_key_create(name=obj.name, user=obj.user, licensee=obj.licensee, expires_at=obj.expires_at)
        obj.pk, obj.prefix, obj.hashed_key = api_key.pk, api_key.prefix, api_key.hashed_key
        obj.created_at = api_key.created_at
        obj._state.adding = False
        self.message_user(
            request,
            format_html(gettext("The new key, shown this once: <code>{}</code>"), key),
            messages.WARNING,
        )

    @admin.action(description=_("Revoke the selected keys"), permissions=["change"])
    def revoke(self, request, queryset):
        for api_key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(api_key=api_key)
        self.message_user(request, _("Keys revoked."), messages.SUCCESS)

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the record of a key that existed stays


# usage -------------------------------------------------------------------------------------------------------------
class LicensedFilter(admin.SimpleListFilter):
    title = _("licensed")
    parameter_name = "licensed"

    def lookups(self, request, model_admin):
        return [("no", _("Unlicensed use")), ("yes", _("Licensed"))]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(agreement__isnull=True)
        if self.value() == "yes":
            return queryset.filter(agreement__isnull=False)
        return queryset


class ReadOnlyRecordsAdmin(admin.ModelAdmin):
    """Records written by the system (usage, reports, periods): read in the admin, never edited there.
    `has_view_permission` says who reads them."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False

    def has_view_permission(self, request, obj=None):
        return access_of(request).is_staff

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(UsageEvent)
class UsageEventAdmin(ReadOnlyRecordsAdmin):
    """What AI companies reported, unlicensed use included: which company, which model, which work, how much.
    A rights holder's user sees the use of its own works."""

    list_display = ["occurred_on", "licensee", "model", "work", "use", "quantity", "licensed", "revenue", "late"]
    list_filter = [LicensedFilter, "use", "period", "late", "reserved"]
    list_select_related = ["licensee", "work", "agreement"]
    search_fields = ["model", "=work__isbn"]
    ordering = ["-period", "-id"]
    list_per_page = 100

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        access = access_of(request)
        if access.is_staff:
            return queryset
        if not access.holder_ids:
            return queryset.none()
        return queryset.filter(work_id__in=selectors.owned_work_ids_sql(access.holder_ids))

    def has_view_permission(self, request, obj=None):
        access = access_of(request)
        return access.is_staff or access.is_holder

    @admin.display(description=_("licensed"), boolean=True)
    def licensed(self, obj: UsageEvent) -> bool:
        return obj.agreement_id is not None

    @admin.display(description=_("revenue"))
    def revenue(self, obj: UsageEvent) -> str:
        if obj.revenue_amount is None:
            return "—"
        return Money(obj.revenue_amount, obj.revenue_currency).format()


@admin.register(UsageReport)
class UsageReportAdmin(ReadOnlyRecordsAdmin):
    list_display = ["created_at", "licensee", "period", "status", "late", "events_received", "events_accepted",
                    "events_rejected", "events_unlicensed"]  # fmt: skip
    list_filter = ["status", "late", "period"]
    search_fields = ["=idempotency_key", "licensee__name"]
    list_select_related = ["licensee"]
    readonly_fields = [field.name for field in UsageReport._meta.fields]
    actions = ["process_again"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not access_of(request).is_staff:
            actions.pop("process_again", None)
        return actions

    @admin.action(description=_("Process the failed reports again"))
    def process_again(self, request, queryset):
        queued = sum(usage_report_process_again(report=report) for report in queryset)
        skipped = len(queryset) - queued
        if queued:
            self.message_user(request, ngettext("%(n)d report queued again.", "%(n)d reports queued again.",
                                                queued) % {"n": queued}, messages.SUCCESS)  # fmt: skip
        if skipped:
            self.message_user(
                request,
                ngettext("%(n)d report skipped: only a failed report whose body was kept is processed again.",
                         "%(n)d reports skipped: only a failed report whose body was kept is processed again.",
                         skipped) % {"n": skipped},
                messages.WARNING,
            )  # fmt: skip


@admin.register(ReportingPeriod)
class ReportingPeriodAdmin(ReadOnlyRecordsAdmin):
    list_display = ["period", "status", "finalized_at"]
    readonly_fields = ["period", "status", "finalized_at"]


from . import user_admin  # noqa: E402, F401  (the user admin for staff)
