"""RFC 9457 problem details for every API error, whatever raised it.

DRF exceptions go through `problem_exception_handler`; anything Django answers by itself under `/api/`
(an unknown URL, a body too large, an unexpected exception) is rewritten by `ApiProblemMiddleware`,
so a client never sees an HTML page or a bare 500.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils.encoding import force_str
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, status
from rest_framework.response import Response

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "urn:rights-ledger:problem:"

# problem type slug per DRF exception code / status
_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    429: "too-many-requests",
    500: "internal-error",
    503: "unavailable",
}


def problem_type(slug: str) -> str:
    return TYPE_BASE + slug


def problem_body(
    status_code: int,
    *,
    detail: str | None = None,
    slug: str | None = None,
    title: str | None = None,
    errors: list[dict[str, str]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": problem_type(slug or _SLUGS.get(status_code, "error")),
        "title": title or _status_title(status_code),
        "status": status_code,
    }
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    body.update(extra)
    return body


def problem_response(status_code: int, **kwargs: Any) -> JsonResponse:
    """A plain Django response (outside DRF views: middleware, health check)."""
    response = JsonResponse(
        problem_body(status_code, **kwargs),
        status=status_code,
        content_type=PROBLEM_CONTENT_TYPE,
        json_dumps_params={"ensure_ascii": False},
    )
    return response


def _status_title(status_code: int) -> str:
    titles = {
        400: _("Bad request"),
        401: _("Authentication required"),
        403: _("Forbidden"),
        404: _("Not found"),
        405: _("Method not allowed"),
        406: _("Not acceptable"),
        409: _("Conflict"),
        413: _("Payload too large"),
        415: _("Unsupported media type"),
        429: _("Too many requests"),
        500: _("Internal server error"),
        503: _("Service unavailable"),
    }
    try:
        return titles.get(status_code) or HTTPStatus(status_code).phrase
    except ValueError:
        return _("Error")


def flatten_errors(detail: Any, path: str = "") -> Iterator[dict[str, str]]:
    """Turn DRF's nested error detail into `[{"field": "events[3].quantity", "message": ...}]`."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            key = str(key)
            if key in {"non_field_errors", "__all__"}:
                yield from flatten_errors(value, path)
            elif key.isdigit():  # DRF reports items of lists by index: events[3], not events.3
                yield from flatten_errors(value, f"{path}[{key}]")
            else:
                yield from flatten_errors(value, f"{path}.{key}" if path else key)
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            for item in detail:
                yield _error(path, item)
        else:
            for index, item in enumerate(detail):
                if item in ({}, [], None):
                    continue
                yield from flatten_errors(item, f"{path}[{index}]")
    else:
        yield _error(path, detail)


def _error(path: str, message: Any) -> dict[str, str]:
    entry = {"message": force_str(message)}
    if path:
        entry = {"field": path, **entry}
    return entry


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every error becomes application/problem+json."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            detail=exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError(_("The request could not be read."))

    headers: dict[str, str] = {}
    if isinstance(exc, exceptions.APIException):
        status_code = exc.status_code
        if isinstance(exc, exceptions.ValidationError):
            body = problem_body(
                status_code,
                slug="validation-error",
                title=_("The request is not valid"),
                detail=_("One or more fields are not valid."),
                errors=list(flatten_errors(exc.detail)) or None,
            )
        else:
            detail = exc.detail
            if isinstance(detail, (list, dict)):
                body = problem_body(status_code, errors=list(flatten_errors(detail)))
            else:
                body = problem_body(status_code, detail=force_str(detail))
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
        wait = getattr(exc, "wait", None)
        if wait is not None:
            headers["Retry-After"] = str(max(1, int(wait + 0.999)))
        if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
            request = context.get("request")
            view = context.get("view")
            header = view.get_authenticate_header(request) if view and request else None
            if header:
                headers["WWW-Authenticate"] = header
            if status_code == status.HTTP_403_FORBIDDEN:
                status_code = status.HTTP_401_UNAUTHORIZED
                body["status"] = status_code
                body["type"] = problem_type(_SLUGS[401])
                body["title"] = _status_title(401)
    else:
        logger.exception("Unhandled error in API view", exc_info=exc)
        status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
        body = problem_body(status_code, detail=_("An unexpected error occurred. It has been logged."))

    response = Response(body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)
    return response


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = gettext_lazy("The request body is larger than this endpoint accepts.")
    default_code = "payload_too_large"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = gettext_lazy("The request conflicts with the current state of the resource.")
    default_code = "conflict"


class Unavailable(exceptions.APIException):
    """503 with Retry-After: the request can succeed as it is, a moment later."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = gettext_lazy("The service is busy; try again shortly.")
    default_code = "unavailable"

    def __init__(self, detail=None, *, wait: int = 5):
        super().__init__(detail)
        self.wait = wait


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _has_nul(request: HttpRequest) -> bool:
    """A NUL character in the query string, as sent (%00) or as decoded (in the charset the request names)."""
    if "\x00" in request.META.get("QUERY_STRING", "").replace("%00", "\x00"):
        return True
    try:
        fields = request.GET.lists()
    except SuspiciousOperation:  # too many fields: the view that reads them says so (problem+json under /api/)
        return False
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in fields)


class ApiProblemMiddleware:
    """Under /api/, turn Django's own HTML error pages and uncaught exceptions into problem+json. Everywhere (the
    admin's filters and searches too), a query string with a NUL character is a 400."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _has_nul(request):
            # PostgreSQL text cannot hold NUL; refuse it here rather than fail deep in a query
            detail = _("The query string contains a NUL character.")
            if _is_api(request):
                return problem_response(400, detail=detail, slug="validation-error")
            return HttpResponseBadRequest(f"<h1>{escape(_('Bad request'))}</h1><p>{escape(detail)}</p>")
        response = self.get_response(request)
        if not _is_api(request) or response.status_code < 400:
            return response
        content_type = response.get("Content-Type", "")
        if content_type.startswith(("application/json", PROBLEM_CONTENT_TYPE)):
            return response
        detail = None
        if response.status_code == 404:
            detail = _("No API resource lives at this address.")
        return problem_response(response.status_code, detail=detail)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not _is_api(request):
            return None
        if isinstance(exception, Http404):
            return problem_response(404, detail=_("No API resource lives at this address."))
        if isinstance(exception, RequestDataTooBig):
            return problem_response(413, detail=force_str(PayloadTooLarge.default_detail))
        if isinstance(exception, DjangoPermissionDenied):
            return problem_response(403)
        if isinstance(exception, SuspiciousOperation):
            return problem_response(400, detail=_("The request could not be read."))
        logger.exception("Unhandled error under /api/", exc_info=exception)
        return problem_response(500, detail=_("An unexpected error occurred. It has been logged."))
