"""The API's JSON parser: DRF's, refusing text that is not text."""

from __future__ import annotations

import codecs
import re

from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.utils import json

from .charset import text_codec

# A \u escape of half a UTF-16 surrogate pair. JSON allows it, Python's json module decodes it, but alone it is not a
# character: UTF-8 (the database's encoding, the response's) cannot hold it, and a string carrying one would fail on
# its way to PostgreSQL or back out as a 500. A pair (an emoji written as two escapes) is decoded into one character.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        charset = _charset(media_type)
        if charset is not None and text_codec(charset) != "utf-8":
            # JSON is UTF-8 (RFC 8259, API.md); other charsets (unicode_escape, utf-7…) can smuggle in what UTF-8
            # cannot hold
            raise UnsupportedMediaType(media_type, detail=_("JSON is accepted in UTF-8 only."))
        raw = stream.read() if stream is not None else b""
        try:
            text = codecs.decode(raw, "utf-8")
            data = json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except ValueError as exc:
            raise ParseError(_("JSON parse error - %s") % exc) from None
        except RecursionError:
            raise ParseError(_("JSON parse error - nested too deeply.")) from None
        if _SURROGATE_ESCAPE.search(raw):  # rare: only then look at every string
            try:
                json.dumps(data, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:
                raise ParseError(
                    _("JSON parse error - a \\u escape names half of a surrogate pair without the other half.")
                ) from None
        return data


def _charset(media_type: str | None) -> str | None:
    """The charset parameter of a Content-Type, if any."""
    for param in (media_type or "").split(";")[1:]:
        name, _sep, value = param.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"') or None
    return None


class LargeJSONParser(parsers.BaseParser):
    """The same JSON, for an endpoint that accepts a body larger than Django's DATA_UPLOAD_MAX_MEMORY_SIZE (a
    clearance of 10,000 references: up to CLEARANCE_MAX_BODY_BYTES, checked by the view before reading). DRF reads
    `request.body`, which applies Django's limit, for its own JSONParser and subclasses only: this one is handed the
    request's stream."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        return JSONParser().parse(stream, media_type, parser_context)
