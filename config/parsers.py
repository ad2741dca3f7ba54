"""The API's JSON parser: DRF's, refusing text that is not text."""

from __future__ import annotations

import codecs
import re

from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json

# A \u escape of half a UTF-16 surrogate pair. JSON allows it, Python's json module decodes it, but alone it is not a
# character: UTF-8 (the database's encoding, the response's) cannot hold it, and a string carrying one would fail on
# its way to PostgreSQL or back out as a 500. A pair (an emoji written as two escapes) is decoded into one character.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        raw = stream.read() if stream is not None else b""
        try:
            text = codecs.decode(raw, encoding)
            data = json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except ValueError as exc:
            raise ParseError(_("JSON parse error - %s") % exc) from None
        if _SURROGATE_ESCAPE.search(raw):  # rare: only then look at every string
            try:
                json.dumps(data, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:
                raise ParseError(
                    _("JSON parse error - a \\u escape names half of a surrogate pair without the other half.")
                ) from None
        return data
