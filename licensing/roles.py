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
        # logins for rights holders (the user admin keeps superuser status and permissions to superusers)
        "auth": {"user": ["view", "add", "change"], "group": ["view"]},
        "payouts": {"taxrule": ["view"], "payoutbatch": ["view"], "payoutitem": ["view"], "payoutevent": ["view"]},
    },
    FINANCE: {
        "licensing": {model: ["view"] for model in _CATALOGUE + _AGREEMENTS}
        | {"rightsholder": ["view", "platform_staff"]},
        "ledger": {"account": ["view"], "journaltransaction": ["view"], "posting": ["view"]},
        "django_celery_beat": dict.fromkeys(["periodictask", "crontabschedule", "intervalschedule"], _ALL),
        # the rates change with the law: finance keeps the dated table (a rule in force is never rewritten)
        "payouts": {
            "taxrule": ["view", "add", "change"],
            # only finance creates, exports and confirms payout batches and records returned transfers
            "payoutbatch": ["view", "add", "change", "export", "confirm"],
            "payoutitem": ["view"],
            "payoutevent": ["view"],
        },
    },
    RIGHTS_HOLDERS: {
        "licensing": {
            "rightsholder": ["view", "change"],
            # no deleting: a co-owned work or another holder's share is not one member's to erase
            "work": ["add", "change", "view"],
            "workidentifier": _ALL,
            "share": ["add", "change", "view"],
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
        original = getattr(
            app_config, "models_module", None
        )  # None on the migrations' app stubs, which create_permissions skips
        app_config.models_module = original or True
        try:
            create_permissions(app_config, verbosity=0, apps=apps)
        finally:
            app_config.models_module = original
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


def role_group(name: str):
    """The group of a role, recreated with its permissions if it is missing (e.g. after a test flushed the tables
    that the migration filled)."""
    from django.apps import apps as global_apps
    from django.contrib.auth.models import Group

    group = Group.objects.filter(name=name).first()
    if group is None:
        sync_role_groups(global_apps)
        group = Group.objects.get(name=name)
    return group
