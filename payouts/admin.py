"""Payouts in the admin."""

from __future__ import annotations

import datetime as dt
import re
import uuid

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponse
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from config.admin_tools import EstimatedCountPaginator, text_filter
from ledger.money import Money
from licensing.admin import access_of
from licensing.models import Licensee

from .engine import RunRefused
from .models import Advance, Invoice, Statement, StatementLine, StatementRun, TaxRule
from .services import advance_record_received, statement_run_create, statement_run_finalize


@admin.register(TaxRule)
class TaxRuleAdmin(admin.ModelAdmin):
    """The dated rates. A rule in force (from today or earlier) is never rewritten, since statements were computed
    with it: a change of the law is a new rule from the date it applies."""

    list_display = ["kind", "effective_from", "rate", "threshold", "threshold_currency", "rate_above", "note"]
    list_filter = ["kind"]
    ordering = ["kind", "-effective_from"]

    def in_force(self, obj) -> bool:
        return obj is not None and obj.effective_from <= timezone.localdate()

    def get_readonly_fields(self, request, obj=None):
        if self.in_force(obj):
            return [field.name for field in TaxRule._meta.fields]
        return []

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and not self.in_force(obj)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if self.in_force(obj):
            description = _("In force: add a new rule from the date the change applies.")
            return [(None, {"fields": fieldsets[0][1]["fields"], "description": description})]
        return fieldsets


class RecordsAdmin(admin.ModelAdmin):
    """Computed by the engine: read in the admin, never edited there."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def _money(amount: int, currency: str) -> str:
    return Money(amount, currency).format(translation.get_language() or "ja")


def money_column(field: str, description, *, currency: str = "currency"):
    """An admin column (or read-only field) showing the amount `field` in its row's currency, read at the dotted
    path `currency` (a line's is its statement's: "statement.currency")."""

    def column(self, obj) -> str:
        owner = obj
        for name in currency.split("."):
            owner = getattr(owner, name)
        return _money(getattr(obj, field), owner)

    return admin.display(description=description, ordering=field)(column)


class PeriodFilter(admin.SimpleListFilter):
    """A month to pick: the periods the user's rows have, newest first (`YYYY-MM`; `YYYY-MM-01` accepted too)."""

    title = _("period")
    parameter_name = "period"

    def periods(self, request, model_admin):
        return model_admin.get_queryset(request).values_list("period", flat=True)

    def lookups(self, request, model_admin):
        periods = self.periods(request, model_admin).order_by("-period").distinct()[:120]
        return [(f"{period:%Y-%m}", f"{period:%Y-%m}") for period in periods]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        match = re.fullmatch(r"(\d{4})-(\d{2})(-01)?", self.value())
        if match is None or not 1 <= int(match[2]) <= 12:
            return queryset.none()
        return queryset.filter(period=dt.date(int(match[1]), int(match[2]), 1))


class LinePeriodFilter(PeriodFilter):
    """The periods of the user's statements (a few rows a month), not a scan of every line."""

    def periods(self, request, model_admin):
        statements = Statement.objects.all()
        access = access_of(request)
        if not access.is_staff:
            statements = statements.filter(rights_holder_id__in=access.holder_ids)
        return statements.values_list("period", flat=True)


@admin.register(StatementRun)
class StatementRunAdmin(RecordsAdmin):
    list_display = ["period_label", "status", "progress", "lines_written", "created_at", "finished_at",
                    "finalized_at"]  # fmt: skip
    list_filter = ["status", PeriodFilter]
    readonly_fields = ["period", "status", "step", "agreements_total", "agreements_done", "lines_written",
                       "unallocated_label", "parts_dealt", "error", "requested_by", "created_at", "started_at",
                       "finished_at", "finalized_at"]  # fmt: skip
    actions = ["compute_again", "finalize"]

    def has_view_permission(self, request, obj=None) -> bool:
        return access_of(request).is_staff

    def has_module_permission(self, request) -> bool:
        return self.has_view_permission(request)

    @admin.display(description=_("period"), ordering="period")
    def period_label(self, obj: StatementRun) -> str:
        return f"{obj.period:%Y-%m}"

    @admin.display(description=_("parts"))
    def parts_dealt(self, obj: StatementRun) -> str:
        """How many agreements each task of a split run has (their ids are in the database, not on the page)."""
        if not obj.parts:
            return "-"
        counts = " + ".join(str(len(ids)) for ids in obj.parts)
        return ngettext("%(parts)d part: %(counts)s agreements", "%(parts)d parts: %(counts)s agreements",
                        len(obj.parts)) % {"parts": len(obj.parts), "counts": counts}  # fmt: skip

    @admin.display(description=_("unallocated"))
    def unallocated_label(self, obj: StatementRun) -> str:
        """Royalties of works without rights holders, per currency: billed, paid to no one yet."""
        return ", ".join(_money(int(amount), currency) for currency, amount in sorted(obj.unallocated.items())) or "-"

    @admin.display(description=_("progress"))
    def progress(self, obj: StatementRun) -> str:
        """The agreements done out of the run's, and its step while it runs (or the one it failed at)."""
        done = f"{obj.agreements_done} / {obj.agreements_total}"
        return f"{done} · {obj.get_step_display()}" if obj.step else done

    @admin.action(description=_("Compute these periods again (drafts)"))
    def compute_again(self, request, queryset):
        from .tasks import compute_statement_run

        for period in sorted({run.period for run in queryset}):
            try:
                run = statement_run_create(period=period, requested_by=request.user)
            except RunRefused as exc:
                self.message_user(request, str(exc), messages.WARNING)
                continue
            transaction.on_commit(lambda run_id=str(run.pk): compute_statement_run.delay(run_id))
            self.message_user(request, _("%(period)s queued.") % {"period": f"{period:%Y-%m}"}, messages.SUCCESS)

    @admin.action(description=_("Finalize (post to the ledger)"))
    def finalize(self, request, queryset):
        for run in queryset:
            try:
                statement_run_finalize(run=run)
            except RunRefused as exc:
                self.message_user(request, f"{run.period:%Y-%m}: {exc}", messages.ERROR)
            else:
                self.message_user(request, _("%(period)s is final.") % {"period": f"{run.period:%Y-%m}"},
                                  messages.SUCCESS)  # fmt: skip


class HolderScoped(RecordsAdmin):
    """Staff see every row; a rights holder's user its own holders' rows (`holder_field`)."""

    holder_field = "rights_holder_id"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        access = access_of(request)
        if access.is_staff:
            return queryset
        return queryset.filter(**{f"{self.holder_field}__in": access.holder_ids})

    def has_view_permission(self, request, obj=None) -> bool:
        access = access_of(request)
        return access.is_staff or access.is_holder

    def has_module_permission(self, request) -> bool:
        return self.has_view_permission(request)


class LicenseeFilter(admin.SimpleListFilter):
    """The AI company behind the lines. Its choices are what the user may see: staff every licensee; a rights
    holder's user only those on its own holders' statement lines, never the names of other holders' licensees."""

    title = _("licensee")
    parameter_name = "licensee"

    def lookups(self, request, model_admin):
        access = access_of(request)
        licensees = Licensee.objects.order_by("name", "pk")
        if not access.is_staff:
            mine = StatementLine.objects.filter(statement__rights_holder_id__in=access.holder_ids)
            licensees = licensees.filter(pk__in=mine.values("licensee_id"))
        return [(str(pk), name) for pk, name in licensees.values_list("pk", "name")]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            licensee_id = uuid.UUID(self.value())
        except ValueError:
            return queryset.none()
        return queryset.filter(self.condition(licensee_id))

    def condition(self, licensee_id: uuid.UUID) -> Q | Exists:
        """The lines of the licensee, through their agreement: a line's licensee is its agreement's (a composite
        foreign key), and statement lines are indexed by agreement, not by licensee."""
        return Q(agreement__licensee_id=licensee_id)


class StatementLicenseeFilter(LicenseeFilter):
    """A statement matches when one of its lines is the licensee's: a semi-join on the lines' indexes, each
    statement once."""

    def condition(self, licensee_id: uuid.UUID) -> Q | Exists:
        lines = StatementLine.objects.filter(statement_id=OuterRef("pk"), period=OuterRef("period"),
                                             agreement__licensee_id=licensee_id)  # fmt: skip
        return Exists(lines)


LINES_SHOWN = 100  # a statement's page shows its first lines; the lines list has them all, paginated


class FirstLines(BaseInlineFormSet):
    """The statement's first LINES_SHOWN lines (a publisher's runs to many thousands a month), each with the AI
    models behind it, read for them all in one query."""

    def get_queryset(self):
        if not hasattr(self, "_lines"):
            self._lines = list(super().get_queryset()[:LINES_SHOWN])
            behind = models_behind(self.instance, self._lines)
            for line in self._lines:
                line.models_behind = behind.get(line.pk, [])
        return self._lines


class StatementLineInline(admin.TabularInline):
    model = StatementLine
    formset = FirstLines
    fields = ["licensee", "agreement", "work", "use", "basis", "adjusted_period", "quantity", "gross_amount",
              "commission_amount", "net_amount", "models"]  # fmt: skip
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("licensee", "agreement", "work", "statement")

    def has_view_permission(self, request, obj=None) -> bool:  # the statement's admin has scoped it already
        access = access_of(request)
        return access.is_staff or access.is_holder

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    gross_amount = money_column("gross", _("gross"), currency="statement.currency")
    commission_amount = money_column("commission", _("commission"), currency="statement.currency")
    net_amount = money_column("net", _("net"), currency="statement.currency")

    @admin.display(description=_("AI models"))
    def models(self, line) -> str:
        """The models that produced the line (models_behind)."""
        return ", ".join(getattr(line, "models_behind", []))


MODELS_SHOWN = 20  # per line


def models_behind(statement: Statement, lines: list[StatementLine]) -> dict[int, list[str]]:
    """Line id → the models the AI company reported for what the line bills, in one query for all the lines: a
    usage line, the period's own (not late) events of its agreement, work and use (revenue_share: those with revenue
    reported); an adjustment, the late events of its month that the statement's run adjusted (its late reports); a
    flat fee or guarantee top-up (no use), the period's events of its agreement and work, whatever the use."""
    from licensing.models import UsageEvent

    own, late = Q(), Q()
    for line in lines:
        key = Q(agreement_id=line.agreement_id, work_id=line.work_id)
        if line.adjusted_period is not None:
            late |= key & Q(period=line.adjusted_period, use=line.use)
        else:
            own |= key & (Q(use=line.use) if line.use else Q())
    conditions = Q()
    if own:
        conditions |= own & Q(period=statement.period, late=False)
    if late:
        conditions |= late & Q(late=True, report_id__in=list(statement.run.late_reports or []))
    if not conditions:
        return {}
    found: dict[tuple, set] = {}
    rows = (
        UsageEvent.objects.filter(conditions)
        .annotate(with_revenue=ExpressionWrapper(Q(revenue_amount__isnull=False), output_field=BooleanField()))
        .values_list("period", "agreement_id", "work_id", "use", "late", "with_revenue", "model")
        .distinct()
    )  # fmt: skip
    for period, agreement_id, work_id, use, is_late, with_revenue, model in rows:
        for key_use in (use, ""):  # its use's lines, and the fixed terms' (no use)
            for revenue_only in (False, True) if with_revenue else (False,):
                found.setdefault((period, agreement_id, work_id, key_use, is_late, revenue_only), set()).add(model)
    result = {}
    for line in lines:
        period = line.adjusted_period or statement.period
        key = (period, line.agreement_id, line.work_id, line.use, line.adjusted_period is not None,
               line.basis == "revenue_share")  # fmt: skip
        result[line.pk] = sorted(found.get(key, ()))[:MODELS_SHOWN]
    return result


class Downloads:
    """A CSV and a PDF of each row (payouts.documents), behind the admin's own visibility of the rows."""

    document = ""  # "statement" | "invoice"

    @admin.display(description=_("downloads"))
    def downloads(self, obj) -> str:
        name = f"admin:payouts_{self.document}_document"
        return format_html('<a href="{}">CSV</a> · <a href="{}">PDF</a>', reverse(name, args=[obj.pk, "csv"]),
                           reverse(name, args=[obj.pk, "pdf"]))  # fmt: skip

    def get_urls(self):
        view = self.admin_site.admin_view(self.document_view)
        return [path("<uuid:pk>/document.<str:fmt>", view, name=f"payouts_{self.document}_document"),
                *super().get_urls()]  # fmt: skip

    def document_view(self, request, pk, fmt: str):
        if not self.has_view_permission(request):
            raise Http404
        return _document(self.get_queryset(request), pk, fmt, self.document)


@admin.register(Statement)
class StatementAdmin(Downloads, HolderScoped):
    document = "statement"
    list_display = ["rights_holder", "period_label", "currency", "status", "gross_amount", "net_amount",
                    "payable_amount", "carried_out", "downloads"]  # fmt: skip
    list_filter = [
        "status", PeriodFilter, "currency", "carried_out", StatementLicenseeFilter,
        text_filter("holder", _("rights holder"), ("rights_holder__name__icontains",
                                                   "rights_holder__name_kana__icontains")),
        text_filter("work", _("work"), ("lines__work__title__icontains", "lines__work__isbn"), many=True),
    ]  # fmt: skip
    search_fields = ["rights_holder__name", "rights_holder__name_kana"]
    list_select_related = ["rights_holder"]
    readonly_fields = ["rights_holder", "period", "currency", "status", "gross_amount", "commission_amount",
                       "net_amount", "consumption_tax_amount", "withholding_tax_amount", "carried_forward_amount",
                       "payable_amount", "carried_out", "registration_number", "finalized_at", "paid_at", "downloads",
                       "all_lines"]  # fmt: skip
    inlines = [StatementLineInline]

    @admin.display(description=_("lines"))
    def all_lines(self, obj) -> str:
        count = obj.lines.count()
        shown = ngettext("%(count)s line", "%(count)s lines", count) % {"count": f"{count:,}"}
        if count > LINES_SHOWN:
            shown += " " + _("(the first %(shown)s below)") % {"shown": LINES_SHOWN}
        url = reverse("admin:payouts_statementline_changelist") + f"?statement__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, shown)

    commission_amount = money_column("commission", _("commission"))
    consumption_tax_amount = money_column("consumption_tax", _("consumption tax"))
    withholding_tax_amount = money_column("withholding_tax", _("withholding tax"))
    carried_forward_amount = money_column("carried_forward", _("carried forward"))

    @admin.display(description=_("period"), ordering="period")
    def period_label(self, obj) -> str:
        return f"{obj.period:%Y-%m}"

    gross_amount = money_column("gross", _("gross"))
    net_amount = money_column("net_royalties", _("net royalties"))
    payable_amount = money_column("payable", _("payable"))


@admin.register(StatementLine)
class StatementLineAdmin(HolderScoped):
    """Every line, filterable by period, rights holder, AI company and work."""

    holder_field = "statement__rights_holder_id"
    list_display = ["statement", "licensee", "work", "use", "basis", "quantity", "gross_amount", "commission_amount",
                    "net_amount"]  # fmt: skip
    list_filter = [
        "basis", LinePeriodFilter, "statement__status", LicenseeFilter,
        text_filter("holder", _("rights holder"), ("statement__rights_holder__name__icontains",
                                                   "statement__rights_holder__name_kana__icontains")),
        text_filter("work", _("work"), ("work__title__icontains", "work__isbn")),
    ]  # fmt: skip
    search_fields = ["work__title", "=work__isbn", "statement__rights_holder__name", "licensee__name"]
    list_select_related = ["statement__rights_holder", "licensee", "work"]
    autocomplete_fields = []

    gross_amount = money_column("gross", _("gross"), currency="statement.currency")
    commission_amount = money_column("commission", _("commission"), currency="statement.currency")
    net_amount = money_column("net", _("net"), currency="statement.currency")


@admin.register(Invoice)
class InvoiceAdmin(Downloads, RecordsAdmin):
    document = "invoice"
    list_display = ["licensee", "agreement", "period_label", "currency", "status", "royalties_amount",
                    "advance_recouped_amount", "amount_due_amount", "downloads"]  # fmt: skip
    list_filter = ["status", PeriodFilter, "currency"]
    search_fields = ["licensee__name", "agreement__reference"]
    list_select_related = ["licensee", "agreement"]
    readonly_fields = ["licensee", "agreement", "period", "currency", "status", "royalties_amount",
                       "advance_recouped_amount", "amount_due_amount", "finalized_at", "downloads"]  # fmt: skip

    royalties_amount = money_column("royalties", _("royalties"))
    advance_recouped_amount = money_column("advance_recouped", _("advance recouped"))
    amount_due_amount = money_column("amount_due", _("amount due"))

    def has_view_permission(self, request, obj=None) -> bool:
        return access_of(request).is_staff

    def has_module_permission(self, request) -> bool:
        return self.has_view_permission(request)

    @admin.display(description=_("period"), ordering="period")
    def period_label(self, obj) -> str:
        return f"{obj.period:%Y-%m}"


def _document(queryset, pk, fmt: str, kind: str) -> HttpResponse:
    from . import documents

    obj = queryset.filter(pk=pk).first()
    if obj is None or fmt not in ("csv", "pdf"):
        raise Http404
    content = getattr(documents, f"{kind}_{fmt}")(obj)
    response = HttpResponse(content, content_type="application/pdf" if fmt == "pdf" else "text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{kind}-{obj.period:%Y-%m}-{obj.pk}.{fmt}"'
    return response


@admin.register(Advance)
class AdvanceAdmin(RecordsAdmin):
    """Advances agreed with licensees; finance records each once it is in the bank (Dr bank, Cr the licensee's
    advance), which the invoices' recoupment then draws down."""

    list_display = ["agreement", "licensee", "amount_label", "received"]
    list_select_related = ["agreement__licensee"]
    search_fields = ["agreement__reference", "agreement__licensee__name"]
    actions = ["record_received"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(type="advance")

    def has_view_permission(self, request, obj=None) -> bool:
        return access_of(request).is_staff

    def has_module_permission(self, request) -> bool:
        return self.has_view_permission(request)

    @admin.display(description=_("licensee"))
    def licensee(self, obj) -> str:
        return str(obj.agreement.licensee)

    @admin.display(description=_("amount"))
    def amount_label(self, obj) -> str:
        return _money(obj.amount, obj.agreement.currency)

    @admin.display(description=_("received"), boolean=True)
    def received(self, obj) -> bool:
        from ledger.models import JournalTransaction

        return JournalTransaction.objects.filter(idempotency_key=f"payouts:advance:{obj.pk}").exists()

    @admin.action(description=_("Record as received today (ledger: bank, licensee advance)"))
    def record_received(self, request, queryset):
        recorded = 0
        for term in queryset:
            try:
                recorded += advance_record_received(term=term, received_on=timezone.localdate())
            except RunRefused as exc:
                self.message_user(request, f"{term.agreement}: {exc}", messages.ERROR)
        self.message_user(request, _("%(n)d advance(s) recorded.") % {"n": recorded}, messages.SUCCESS)


from . import admin_batches  # noqa: E402, F401  (registers the payout batch admin, which builds on the classes above)
