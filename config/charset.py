"""The charset parameter of a request's Content-Type, checked before anything reads the request.

Django decodes the query string and form bodies with that charset, and reads the query string as soon as it builds
the request: a name Python knows that is no text encoding (`rot13`, `base64`, `zlib`…) made WSGIRequest() itself
raise, a 500 before any middleware. `CharsetGuard` wraps the WSGI application (config/wsgi.py) and sees the
request first: under /api/, a body in such a "charset" is 415 (problem+json); anywhere else the parameter is
dropped, as Django drops a charset it does not know. `CharsetMiddleware` then refuses, under /api/, a body in any
text encoding other than UTF-8 (API.md: UTF-8 in and out).
"""

from __future__ import annotations

import codecs
import json

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def text_codec(charset: str) -> str | None:
    """The canonical name of the text encoding `charset` names (utf8, UTF-8, u8… are all utf-8), or None when it
    names none (unknown, or a bytes-to-bytes codec)."""
    try:
        info = codecs.lookup(charset)
    except LookupError:
        return None
    return info.name if getattr(info, "_is_text_encoding", True) else None


def _charset_param(content_type: str) -> tuple[str | None, str]:
    """(the charset parameter, the Content-Type without it)."""
    kept, charset = [], None
    for i, part in enumerate(content_type.split(";")):
        name, sep, value = part.partition("=")
        if i and sep and name.strip().lower() == "charset":
            charset = value.strip().strip('"')
        else:
            kept.append(part)
    return charset, ";".join(kept)


def _refusal(charset: str) -> dict:
    from .problems import problem_body

    return problem_body(
        415, detail=_("Requests are accepted in UTF-8 only, not %(charset)s.") % {"charset": charset[:40]}
    )


class CharsetGuard:
    """WSGI middleware: see the module's docstring."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        charset, without = _charset_param(environ.get("CONTENT_TYPE", ""))
        if charset is not None and text_codec(charset) is None:
            if environ.get("PATH_INFO", "").startswith("/api/") and environ.get("REQUEST_METHOD") in BODY_METHODS:
                body = json.dumps(_refusal(charset), ensure_ascii=False).encode()
                start_response("415 Unsupported Media Type", [
                    ("Content-Type", "application/problem+json"), ("Content-Length", str(len(body))),
                ])  # fmt: skip
                return [body]
            environ["CONTENT_TYPE"] = without
        return self.application(environ, start_response)


class CharsetMiddleware:
    """Django middleware: under /api/, a body in a text encoding other than UTF-8 is 415."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        charset = request.content_params.get("charset") if request.content_params else None
        if (charset is not None and request.method in BODY_METHODS and request.path.startswith("/api/")
                and text_codec(charset) != "utf-8"):  # fmt: skip
            from .problems import problem_response

            return problem_response(415, detail=_refusal(charset)["detail"])
        return self.get_response(request)
