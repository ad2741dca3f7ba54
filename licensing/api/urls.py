from django.urls import re_path

from . import usage_views, views

# Trailing slashes optional, no redirect (API.md, Conventions).
ID = r"(?P<pk>[^/]+)"
urlpatterns = [
    re_path(r"^me/keys/?$", views.MyKeysView.as_view(), name="me-keys"),
    re_path(r"^me/keys/(?P<key_id>[^/]+)/?$", views.MyKeyDetailView.as_view(), name="me-key-detail"),
    re_path(r"^rights-holders/?$", views.RightsHoldersView.as_view(), name="rights-holders"),
    re_path(rf"^rights-holders/{ID}/?$", views.RightsHolderDetailView.as_view(), name="rights-holder-detail"),
    re_path(r"^works/?$", views.WorksView.as_view(), name="works"),
    re_path(rf"^works/{ID}/?$", views.WorkDetailView.as_view(), name="work-detail"),
    re_path(r"^reservations/?$", views.ReservationsView.as_view(), name="reservations"),
    re_path(rf"^reservations/{ID}/?$", views.ReservationDetailView.as_view(), name="reservation-detail"),
    re_path(r"^licensees/?$", views.LicenseesView.as_view(), name="licensees"),
    re_path(rf"^licensees/{ID}/?$", views.LicenseeDetailView.as_view(), name="licensee-detail"),
    re_path(rf"^licensees/{ID}/keys/?$", views.LicenseeKeysView.as_view(), name="licensee-keys"),
    re_path(rf"^licensees/{ID}/keys/(?P<key_id>[^/]+)/?$", views.LicenseeKeyDetailView.as_view(), name="licensee-key"),
    re_path(r"^agreements/?$", views.AgreementsView.as_view(), name="agreements"),
    re_path(rf"^agreements/{ID}/?$", views.AgreementDetailView.as_view(), name="agreement-detail"),
    re_path(r"^clearances/?$", usage_views.ClearancesView.as_view(), name="clearances"),
    re_path(r"^usage-reports/?$", usage_views.UsageReportsView.as_view(), name="usage-reports"),
    re_path(rf"^usage-reports/{ID}/?$", usage_views.UsageReportDetailView.as_view(), name="usage-report-detail"),
]
