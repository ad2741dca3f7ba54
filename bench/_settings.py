"""Django settings for `make bench` only: the service's settings plus django-hordak, the ledger benchmark's reference.

Hordak and its dependencies come from requirements-bench.txt; `make up` and `make test` never load this module.
(The leading underscore keeps the bench runner from taking it for a benchmark.)
"""

from config.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "mptt", "djmoney", "hordak"]  # noqa: F405
