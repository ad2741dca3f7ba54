"""The charset parameter of a request's Content-Type, checked before anything reads the request.

Django decodes the query string and form bodies with that charset, and reads the query string as soon as it builds
the request: a name Python knows that cannot decode it (`rot13`, `base64`, `undefined`, `punycode`…, or an RFC 2231
`charset*=` naming an unknown encoding) made WSGIRequest() itself raise, a 500 before any middleware. `CharsetGuard`
wraps the WSGI application (config/wsgi.py) and sees the request first: under /api/, a body in any charset but
UTF-8 is 415 (problem+json; API.md: UTF-8 in and out); anywhere else an unusable charset is dropped, as Django drops
one it does not know. `CharsetMiddleware` says the same 415 to requests that reach Django without the guard.
"""

from __future__ import annotations

import codecs
import json
from urllib.parse import parse_qsl

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.http import parse_header_parameters
from django.utils.translation import gettext as _
from django.utils.translation.trans_real import parse_accept_lang_header

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_PROBE = b"a=%E6%97%A5&b=1+2"


def text_codec(charset: str) -> str | None:
    """The canonical name of the text encoding `charset` names (utf8, UTF-8, u8… are all utf-8), or None when it
    names none (unknown, or a bytes-to-bytes codec)."""
    try:
        info = codecs.lookup(charset)
    except LookupError:
        return None
    return info.name if getattr(info, "_is_text_encoding", True) else None


def _decodes(codec: str, data: bytes) -> bool:
    """Whether Django can decode `data` (a query string or form body) with `codec`: as a whole (it falls back to
    ISO-8859-1 on UnicodeDecodeError only), and as QueryDict parses it (parse_qsl, errors="replace": 'idna' has no
    such handler)."""
    try:
        data.decode(codec)
    except UnicodeDecodeError:
        pass
    except Exception:  # UnicodeError of 'undefined', 'punycode'…: nothing Django catches
        return False
    try:
        parse_qsl(data.decode("latin-1"), keep_blank_values=True, encoding=codec, errors="replace")
    except Exception:
        return False
    return True


def _api_body(method: str | None, path: str) -> bool:
    return method in BODY_METHODS and path.startswith("/api/")


def refusal_detail(charset: str) -> str:
    return _("Requests are accepted in UTF-8 only, not %(charset)s.") % {"charset": charset[:40]}


class CharsetGuard:
    """WSGI middleware: see the module's docstring."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        content_type = environ.get("CONTENT_TYPE", "")
        if ";" not in content_type:  # no parameters: nothing to check (the common case)
            return self.application(environ, start_response)
        try:
            main, params = parse_header_parameters(content_type)
        except ValueError:  # an RFC 2231 parameter in an unknown encoding: Django would raise it
            main, params = content_type.split(";", 1)[0].strip().lower(), {"charset": "?"}
        charset = params.get("charset")
        if charset is None:
            return self.application(environ, start_response)
        codec = text_codec(charset)
        if _api_body(environ.get("REQUEST_METHOD"), environ.get("PATH_INFO", "")):
            if codec != "utf-8":
                return self._refuse(environ, start_response, charset)
        elif codec is None or not all(
            _decodes(codec, data) for data in (_PROBE, environ.get("QUERY_STRING", "").encode("latin-1"))
        ):
            del params["charset"]
            environ["CONTENT_TYPE"] = "; ".join([main, *(f'{k}="{v}"' for k, v in params.items())])
        return self.application(environ, start_response)

    @staticmethod
    def _refuse(environ, start_response, charset: str):
        from .problems import problem_body

        with translation.override(_language(environ.get("HTTP_ACCEPT_LANGUAGE", ""))):
            body = json.dumps(problem_body(415, detail=refusal_detail(charset)), ensure_ascii=False).encode()
        start_response("415 Unsupported Media Type", [
            ("Content-Type", "application/problem+json"), ("Content-Length", str(len(body))),
        ])  # fmt: skip
        return [body]


def _language(accept_language: str) -> str:
    """The language the request asks for among ours (LocaleMiddleware is not reached), else the default."""
    for code, _q in parse_accept_lang_header(accept_language[:255]):
        if code == "*":
            break
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


class CharsetMiddleware:
    """Django middleware (after LocaleMiddleware: the answer in the request's language): under /api/, a body in a
    charset other than UTF-8 is 415."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        charset = request.content_params.get("charset") if request.content_params else None
        if charset is not None and _api_body(request.method, request.path) and text_codec(charset) != "utf-8":
            from .problems import problem_response

            return problem_response(415, detail=refusal_detail(charset))
        return self.get_response(request)
