import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

from config.charset import CharsetGuard  # noqa: E402  (after Django is set up)

# a charset that is no text encoding would break Django's request before any middleware: see config/charset.py
application = CharsetGuard(django_application)
