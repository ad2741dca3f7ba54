"""OpenAPI helpers: every operation documents its problem+json errors."""

from drf_spectacular.utils import OpenApiResponse

PROBLEM_SCHEMA = {"$ref": "#/components/schemas/Problem"}
PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=PROBLEM_SCHEMA, description=description)


def problem_responses(*codes: int) -> dict:
    descriptions = {
        400: "Invalid input (problem+json with per-field `errors`).",
        401: "Missing, invalid, expired or revoked API key.",
        403: "Valid key, forbidden action.",
        404: "No such object, or it belongs to another party.",
        409: "Conflict with the current state (e.g. an Idempotency-Key reused with another body).",
        413: "Request body too large.",
        429: "Rate limit reached; retry after `Retry-After` seconds.",
        503: "Busy for a moment; send the same request again after `Retry-After` seconds.",
    }
    return {(code, PROBLEM_MEDIA_TYPE): problem(descriptions[code]) for code in codes}


PROBLEM_RESPONSES = problem_responses(400, 401, 403, 404)


def problem_headers_hook(result: dict, generator, request, public: bool) -> dict:
    """Say what every operation can answer but no view lists one by one: a `415` wherever a body is read (a media
    type or charset the parsers refuse), and the `Retry-After` header of every `429` and `503`; name file paths
    without their optional trailing slash."""
    retry_after = {
        "description": "Seconds to wait before the next call with this API key.",
        "schema": {"type": "integer", "minimum": 1},
    }
    unsupported = {
        "description": "A media type the operation does not read, or a charset other than UTF-8.",
        "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}},
    }
    # a file's path (`….csv`, `….pdf`) takes a trailing slash too (API.md: both forms work); the schema names it
    # as API.md does, without
    result["paths"] = {(path[:-1] if path.endswith((".csv/", ".pdf/")) else path): operations
                       for path, operations in result.get("paths", {}).items()}  # fmt: skip
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            if "requestBody" in operation and method in ("post", "put", "patch"):
                responses.setdefault("415", unsupported)
            for code in ("429", "503"):
                if code in responses:
                    responses[code].setdefault("headers", {})["Retry-After"] = retry_after
    return result
