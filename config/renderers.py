"""orjson for the API's large answers (a clearance of 10,000 references): several times faster than the standard
library's encoder, with DRF's encoder as the fallback for what orjson does not know (lazy translations, Decimal…)."""

from __future__ import annotations

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_fallback = JSONEncoder().default


class FastJSONRenderer(JSONRenderer):
    """Same media type and output as DRF's compact UTF-8 JSONRenderer (COMPACT_JSON, UNICODE_JSON)."""

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        return orjson.dumps(data, default=_fallback, option=orjson.OPT_NON_STR_KEYS)
