from django.urls import re_path

from .views import MyKeyDetailView, MyKeysView

# Trailing slashes optional, no redirect (API.md, Conventions).
urlpatterns = [
    re_path(r"^me/keys/?$", MyKeysView.as_view(), name="me-keys"),
    re_path(r"^me/keys/(?P<key_id>[0-9a-fA-F-]{36})/?$", MyKeyDetailView.as_view(), name="me-key-detail"),
]
