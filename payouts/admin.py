"""Payouts in the admin."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import TaxRule


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
