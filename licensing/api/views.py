from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from config.schema import PROBLEM_RESPONSES

from ..selectors import api_key_list_for_user
from ..services import api_key_create, api_key_revoke
from .serializers import ApiKeyCreatedOutput, ApiKeyCreateInput, ApiKeyOutput


class MyKeysView(GenericAPIView):
    """The calling user's own API keys."""

    serializer_class = ApiKeyOutput

    def get_queryset(self):
        return api_key_list_for_user(user=self.request.user)

    @extend_schema(operation_id="me_keys_list", responses={200: ApiKeyOutput(many=True), **PROBLEM_RESPONSES})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset().order_by("-created_at", "id"))
        return self.get_paginated_response(ApiKeyOutput(page, many=True).data)

    @extend_schema(
        operation_id="me_keys_create",
        request=ApiKeyCreateInput,
        responses={201: ApiKeyCreatedOutput, **PROBLEM_RESPONSES},
    )
    def post(self, request: Request) -> Response:
        data = ApiKeyCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        expires_at = data.validated_data.get("expires_at")
        if expires_at is not None and expires_at <= timezone.now():
            raise exceptions.ValidationError({"expires_at": [_("The expiry must lie in the future.")]})
        api_key, key = api_key_create(name=data.validated_data["name"], user=request.user, expires_at=expires_at)
        body = ApiKeyOutput(api_key).data | {"key": key}
        return Response(body, status=status.HTTP_201_CREATED)


class MyKeyDetailView(GenericAPIView):
    serializer_class = ApiKeyOutput

    def get_queryset(self):
        return api_key_list_for_user(user=self.request.user)

    @extend_schema(operation_id="me_keys_retrieve", responses={200: ApiKeyOutput, **PROBLEM_RESPONSES})
    def get(self, request: Request, key_id) -> Response:
        return Response(ApiKeyOutput(get_object_or_404(self.get_queryset(), pk=key_id)).data)

    @extend_schema(
        operation_id="me_keys_revoke",
        responses={204: OpenApiResponse(description="Revoked; the key stops working at once."), **PROBLEM_RESPONSES},
    )
    def delete(self, request: Request, key_id) -> Response:
        api_key_revoke(api_key=get_object_or_404(self.get_queryset(), pk=key_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
