"""Everything under /api/v1/. Each app contributes its own `api/urls.py`."""

from django.urls import include, re_path

from .api import ApiRootView

urlpatterns = [
    re_path(r"^$", ApiRootView.as_view(), name="api-root"),
    re_path(r"", include("licensing.api.urls")),
    re_path(r"", include("payouts.api.urls")),
    re_path(r"", include("payouts.api.report_urls")),
]
