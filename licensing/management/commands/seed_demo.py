"""Load the demo: logins and API keys. Idempotent: a second run changes nothing and reuses the stored keys."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from licensing.models import ApiKey
from licensing.services import api_key_create, api_key_verify

DEMO_ADMIN = "admin"


class Command(BaseCommand):
    help = "Create the demo logins and API keys (idempotent) and print them."

    def add_arguments(self, parser):
        parser.add_argument(
            "--key-file",
            type=Path,
            help="JSON file that keeps the demo passwords and keys between runs (they are stored hashed in the "
            "database and cannot be shown again otherwise).",
        )
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args, key_file: Path | None, base_url: str, **options):
        stored = json.loads(key_file.read_text()) if key_file and key_file.exists() else {}
        with transaction.atomic():
            summary = self.seed(stored)
        if key_file:
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(json.dumps(summary, ensure_ascii=False, indent=2))
            key_file.chmod(0o600)
        self.stdout.write(format_summary(summary, base_url))

    def seed(self, stored: dict) -> dict:
        User = get_user_model()
        logins = {login["username"]: login for login in stored.get("logins", [])}
        admin = User.objects.filter(username=DEMO_ADMIN).first()
        password = logins.get(DEMO_ADMIN, {}).get("password")
        if admin is None:
            password = password or secrets.token_urlsafe(12)
            admin = User.objects.create_superuser(DEMO_ADMIN, "admin@example.com", password)
        elif not password or not admin.check_password(password):
            # The stored password is lost or stale: set a fresh one so the printed login works.
            password = secrets.token_urlsafe(12)
            admin.set_password(password)
            admin.save(update_fields=["password"])

        keys = {key["name"]: key for key in stored.get("api_keys", [])}
        admin_key = keys.get("staff", {}).get("key")
        verified = api_key_verify(admin_key) if admin_key else None
        if verified is None or verified.user_id != admin.pk:
            ApiKey.objects.filter(user=admin, name="demo staff key", revoked_at__isnull=True).update(
                revoked_at=admin.date_joined
            )
            _, admin_key = api_key_create(name="demo staff key", user=admin)
        return {
            "logins": [{"username": DEMO_ADMIN, "password": password, "role": "staff (superuser)"}],
            "api_keys": [{"name": "staff", "key": admin_key, "owner": DEMO_ADMIN}],
        }


def format_summary(summary: dict, base_url: str) -> str:
    lines = [
        "",
        "rights-ledger demo",
        f"  admin:    {base_url}/admin/",
        f"  API docs: {base_url}/api/docs/",
        f"  health:   {base_url}/healthz",
        "  logins:",
    ]
    lines += [f"    {login['username']} / {login['password']}  ({login['role']})" for login in summary["logins"]]
    lines.append("  API keys (send as `Authorization: Bearer <key>`):")
    lines += [f"    {key['name']}: {key['key']}" for key in summary["api_keys"]]
    lines.append(f"  try: curl -H 'Authorization: Bearer {summary['api_keys'][0]['key']}' {base_url}/api/v1/")
    return "\n".join(lines) + "\n"
