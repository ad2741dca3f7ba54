"""DRF metadata for OPTIONS requests (no DRF imports here: DRF loads this while it imports itself)."""


class MinimalMetadata:
    """OPTIONS answers with what the view is, not a form description built from a serializer (DRF's default needs
    one on every view, and the OpenAPI schema at /api/schema/ says it better)."""

    def determine_metadata(self, request, view) -> dict:
        return {
            "name": view.get_view_name(),
            "description": view.get_view_description(),
            "renders": [renderer.media_type for renderer in view.renderer_classes],
            "parses": [parser.media_type for parser in view.parser_classes],
            "schema": "/api/schema/",
        }
