"""The three roles of the admin and the API, as Django groups with permissions (created by a migration)."""

from __future__ import annotations

STAFF = "Staff"
FINANCE = "Finance"
RIGHTS_HOLDERS = "Rights holders"

_CATALOGUE = ["rightsholder", "rightsholdermember", "work", "workidentifier", "share", "reservation"]
_AGREEMENTS = ["licensee", "agreement", "term", "apikey"]
_ALL = ["add", "change", "delete", "view"]

# app label → model → actions
ROLE_PERMISSIONS: dict[str, dict[str, dict[str, list[str]]]] = {
    STAFF: {
        "licensing": dict.fromkeys(_CATALOGUE + _AGREEMENTS, _ALL) | {"rightsholder": [*_ALL, "platform_staff"]},
        "ledger": {"account": ["view"], "journaltransaction": ["view"], "posting": ["view"]},
        "django_celery_beat": {m: ["view"] for m in ["periodictask", "crontabschedule", "intervalschedule"]},
    },
    FINANCE: {
        "licensing": {model: ["view"] for model in _CATALOGUE + _AGREEMENTS}
        | {"rightsholder": ["view", "platform_staff"]},
        "ledger": {"account": ["view"], "journaltransaction": ["view"], "posting": ["view"]},
        "django_celery_beat": dict.fromkeys(["periodictask", "crontabschedule", "intervalschedule"], _ALL),
    },
    RIGHTS_HOLDERS: {
        "licensing": {
            "rightsholder": ["view", "change"],
            "work": _ALL,
            "workidentifier": _ALL,
            "share": _ALL,
            "reservation": ["add", "change", "view"],
            "agreement": ["view"],
            "term": ["view"],
            "licensee": ["view"],
        },
    },
}


def sync_role_groups(apps) -> None:
    """Create the groups and give them exactly their permissions. Idempotent; later migrations call it again when
    new models bring new permissions."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, spec in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=name)
        wanted = []
        for app_label, models in spec.items():
            for model, actions in models.items():
                for action in actions:
                    codename = action if action == "platform_staff" else f"{action}_{model}"
                    permission = Permission.objects.filter(
                        content_type__app_label=app_label, content_type__model=model, codename=codename
                    ).first()
                    if permission is not None:
                        wanted.append(permission)
        group.permissions.set(wanted)
