"""Shapes of the licensing API (API.md). Plain serializers: they parse and render; services decide."""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from config.fields import ISODateField, MoneyField, WorkReferenceField

from ..choices import AccountType, AgreementStatus, Every, HolderKind, TermType, Use, WorkKind


# API keys ----------------------------------------------------------------------------------------------------------
class ApiKeyCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text=_("A label to recognise the key by."))
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class LicenseeKeyCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, default="API key")
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class ApiKeyOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class ApiKeyCreatedOutput(ApiKeyOutput):
    key = serializers.CharField(help_text=_("The key itself. Shown once: only its hash is stored."))


# rights holders ----------------------------------------------------------------------------------------------------
class BankAccountSerializer(serializers.Serializer):
    bank_code = serializers.RegexField(r"^\d{4}$", help_text=_("4-digit Zengin bank code."))
    branch_code = serializers.RegexField(r"^\d{3}$", help_text=_("3-digit branch code."))
    account_type = serializers.ChoiceField(choices=AccountType.choices)
    account_number = serializers.RegexField(r"^\d{1,7}$")
    holder_kana = serializers.CharField(
        max_length=60, help_text=_("Account holder name; converted to half-width kana.")
    )
    bank_name = serializers.CharField(read_only=True)
    branch_name = serializers.CharField(read_only=True)


class RightsHolderInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    name_kana = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=HolderKind.choices)
    country = serializers.CharField(max_length=2, required=False, default="JP")
    resident = serializers.BooleanField(required=False, default=True)
    invoice_registration_number = serializers.CharField(max_length=20, required=False, allow_null=True, default=None)
    bank_account = BankAccountSerializer(required=False, allow_null=True, default=None)
    minimum_payout = MoneyField(required=False)
    email = serializers.EmailField(required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=10, required=False, allow_blank=True)
    address = serializers.CharField(max_length=1000, required=False, allow_blank=True)


class RightsHolderPublicOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    name_kana = serializers.CharField()
    kind = serializers.ChoiceField(choices=HolderKind.choices)
    country = serializers.CharField()


class RightsHolderOutput(RightsHolderPublicOutput):
    resident = serializers.BooleanField()
    invoice_registration_number = serializers.CharField(allow_null=True)
    bank_account = BankAccountSerializer(allow_null=True)
    minimum_payout = MoneyField()
    email = serializers.EmailField()
    postal_code = serializers.CharField()
    address = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


# works -------------------------------------------------------------------------------------------------------------
class ExternalIdSerializer(serializers.Serializer):
    scheme = serializers.CharField(max_length=50)
    value = serializers.CharField(max_length=200)


class IdentifiersSerializer(serializers.Serializer):
    isbn = serializers.CharField(max_length=20, required=False, allow_null=True, allow_blank=True)
    iscc = serializers.CharField(max_length=130, required=False, allow_null=True, allow_blank=True)
    ext = ExternalIdSerializer(many=True, required=False)


class ShareInput(serializers.Serializer):
    rights_holder = serializers.UUIDField()
    share = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=True)


class ShareOutput(serializers.Serializer):
    rights_holder = serializers.UUIDField()
    share = serializers.DecimalField(max_digits=5, decimal_places=2)
    inherited = serializers.BooleanField(help_text=_("True when the work has no shares and uses its parent's."))


class WorkInput(serializers.Serializer):
    title = serializers.CharField(max_length=500)
    title_en = serializers.CharField(max_length=500, required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=WorkKind.choices)
    parent = serializers.UUIDField(required=False, allow_null=True)
    identifiers = IdentifiersSerializer(required=False)
    shares = ShareInput(many=True, required=False)


class WorkOutput(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    title_en = serializers.CharField()
    kind = serializers.ChoiceField(choices=WorkKind.choices)
    parent = serializers.UUIDField(allow_null=True)
    identifiers = IdentifiersSerializer()
    shares = ShareOutput(many=True)
    reserved = serializers.BooleanField(help_text=_("A use of this work is reserved (opted out) by a rights holder."))
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


# reservations ------------------------------------------------------------------------------------------------------
class ReservationInput(serializers.Serializer):
    work = WorkReferenceField(required=False, allow_null=True)
    rights_holder = serializers.UUIDField()
    uses = serializers.ListField(child=serializers.ChoiceField(choices=Use.choices), min_length=1, max_length=4)


class ReservationOutput(serializers.Serializer):
    id = serializers.UUIDField()
    rights_holder = serializers.UUIDField(source="rights_holder_id")
    work = serializers.UUIDField(source="work_id", allow_null=True)
    uses = serializers.ListField(child=serializers.ChoiceField(choices=Use.choices))
    active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    lifted_at = serializers.DateTimeField(allow_null=True)


# licensees ---------------------------------------------------------------------------------------------------------
class LicenseeInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    country = serializers.CharField(max_length=2)
    email = serializers.EmailField(required=False, allow_blank=True)
    address = serializers.CharField(max_length=1000, required=False, allow_blank=True)


class LicenseeOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    country = serializers.CharField()
    email = serializers.EmailField()
    address = serializers.CharField()
    created_at = serializers.DateTimeField()


# agreements --------------------------------------------------------------------------------------------------------
class TermSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    type = serializers.ChoiceField(choices=TermType.choices)
    use = serializers.ChoiceField(choices=Use.choices, required=False, allow_null=True)
    rate = serializers.DecimalField(
        max_digits=24,
        decimal_places=6,
        required=False,
        allow_null=True,
        help_text=_("per_unit: price per unit in major units."),
    )
    percent = serializers.DecimalField(max_digits=9, decimal_places=6, required=False, allow_null=True)
    fee = MoneyField(required=False, allow_null=True, help_text=_("per_work and flat_fee."))
    amount = MoneyField(required=False, allow_null=True, help_text=_("minimum_guarantee and advance."))
    every = serializers.ChoiceField(choices=Every.choices, required=False, allow_null=True)


class ScopeSerializer(serializers.Serializer):
    catalogue = serializers.BooleanField(default=False)
    works = serializers.ListField(child=serializers.UUIDField(), required=False, default=list, max_length=10000)
    rights_holders = serializers.ListField(
        child=serializers.UUIDField(), required=False, default=list, max_length=10000
    )


class AgreementInput(serializers.Serializer):
    licensee = serializers.UUIDField()
    reference = serializers.CharField(max_length=100)
    currency = serializers.CharField(max_length=3)
    starts_on = ISODateField()
    ends_on = ISODateField(required=False, allow_null=True)
    territories = serializers.ListField(child=serializers.CharField(max_length=2), min_length=1, max_length=300)
    uses = serializers.ListField(child=serializers.ChoiceField(choices=Use.choices), min_length=1, max_length=4)
    scope = ScopeSerializer()
    commission = serializers.DecimalField(max_digits=5, decimal_places=2, required=False, default=Decimal("0"))
    terms = TermSerializer(many=True, required=False, default=list)
    status = serializers.ChoiceField(choices=AgreementStatus.choices, required=False, default="draft")


class AgreementPatchInput(AgreementInput):
    effective_from = ISODateField(
        required=False,
        help_text=_("Start a new version from this date with the changed terms (required once statements exist)."),
    )


class AgreementOutput(serializers.Serializer):
    id = serializers.UUIDField()
    licensee = serializers.UUIDField(source="licensee_id")
    reference = serializers.CharField()
    version = serializers.IntegerField()
    supersedes = serializers.UUIDField(source="supersedes_id", allow_null=True)
    currency = serializers.CharField()
    starts_on = ISODateField()
    ends_on = ISODateField(allow_null=True)
    territories = serializers.ListField(child=serializers.CharField())
    uses = serializers.ListField(child=serializers.ChoiceField(choices=Use.choices))
    scope = ScopeSerializer()
    commission = serializers.DecimalField(max_digits=5, decimal_places=2)
    terms = TermSerializer(many=True)
    status = serializers.ChoiceField(choices=AgreementStatus.choices)
    frozen = serializers.BooleanField(help_text=_("Statements exist: terms change only through a new version."))
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
