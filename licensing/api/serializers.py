from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class ApiKeyCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text=_("A label to recognise the key by."))
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
