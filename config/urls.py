from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .api import ApiRootWithoutSlash
from .health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("healthz/", healthz),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/payouts/reports/", include("payouts.admin_reports")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/v1", ApiRootWithoutSlash.as_view()),
    path("api/v1/", include("config.api_urls")),
]
