"""Request bodies sent without a Content-Length (`Transfer-Encoding: chunked`, e.g. a streamed NDJSON report).

Gunicorn decodes the chunks, but Django reads a body only as far as CONTENT_LENGTH says, and reads none without
it: a streamed report would arrive empty. Under /api/, such a body of a request with a valid API key is read here
(spooled to a temporary file past 1 MB), up to what the endpoint at its path accepts (usage reports: theirs; the
others: the clearances' or Django's), and handed on with its length, so that the view sees it and applies its own
limit (413) as for any other body.
"""

from __future__ import annotations

import tempfile

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from .problems import problem_response

READ_BYTES = 1024 * 1024
SPOOL_BYTES = 1024 * 1024


def body_limit(path: str) -> int:
    """The most any endpoint at `path` accepts: usage reports theirs, the other endpoints the clearances' or Django's
    own (the views apply their exact limits after)."""
    if path.rstrip("/").endswith("/usage-reports"):
        return settings.USAGE_MAX_BODY_BYTES
    return max(settings.CLEARANCE_MAX_BODY_BYTES, settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0)


class ChunkedBodyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meta = request.META
        if not (
            request.path.startswith("/api/")
            and not meta.get("CONTENT_LENGTH")
            and "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower()
            and _authenticated(request)  # else answered 401 without reading a body
        ):
            return self.get_response(request)
        limit = body_limit(request.path)
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as body:
            size = _copy(meta["wsgi.input"], body, limit + 1)
            if size > limit:
                return problem_response(413, detail=_("The body is larger than %(n)d bytes.") % {"n": limit})
            body.seek(0)
            request._stream = LimitedStream(body, size)
            request._read_started = False
            meta["CONTENT_LENGTH"] = str(size)
            return self.get_response(request)


def _authenticated(request: HttpRequest) -> bool:
    """Whether the request carries a valid API key (the view authenticates it again, as any request)."""
    from rest_framework.exceptions import AuthenticationFailed

    from licensing.authentication import BearerKeyAuthentication

    try:
        return BearerKeyAuthentication().authenticate(request) is not None
    except AuthenticationFailed:
        return False


def _copy(source, target, most: int) -> int:
    """Copy at most `most` bytes from source to target; the number copied."""
    size = 0
    while size < most:
        piece = source.read(min(READ_BYTES, most - size))
        if not piece:
            break
        target.write(piece)
        size += len(piece)
    return size
