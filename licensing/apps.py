from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LicensingConfig(AppConfig):
    name = "licensing"
    verbose_name = _("Licensing")

    def ready(self) -> None:
        from . import lookups, schema  # noqa: F401  (register the bigram lookup and the OpenAPI auth extension)
