from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .schema import problem_responses


class ApiRootView(APIView):
    """Who am I? Answers for any valid key; a cheap way for a client to test its credentials."""

    @extend_schema(
        operation_id="whoami",
        responses={
            200: inline_serializer(
                "WhoAmI",
                fields={
                    "kind": serializers.ChoiceField(choices=["user", "licensee"]),
                    "name": serializers.CharField(),
                    "key_prefix": serializers.CharField(),
                },
            ),
            **problem_responses(401),
        },
    )
    def get(self, request: Request) -> Response:
        key = request.auth
        if key.licensee_id:
            return Response({"kind": "licensee", "name": key.licensee.name, "key_prefix": key.prefix})
        return Response({"kind": "user", "name": request.user.get_username(), "key_prefix": key.prefix})


class ApiRootWithoutSlash(ApiRootView):
    """`/api/v1` answers like `/api/v1/` (API.md: trailing slashes optional, no redirect); documented once."""

    schema = None
