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
    }
    return {(code, PROBLEM_MEDIA_TYPE): problem(descriptions[code]) for code in codes}


PROBLEM_RESPONSES = problem_responses(400, 401, 403, 404)
