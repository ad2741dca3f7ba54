import uuid

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from licensing.models import Licensee
from licensing.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a user or a licensee and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        owner = parser.add_mutually_exclusive_group(required=True)
        owner.add_argument("--user", help="username the key acts for")
        owner.add_argument("--licensee", help="id (uuid) of the licensee the key acts for")
        parser.add_argument("--name", default="command-line key", help="a label to recognise the key by")

    def handle(self, *args, user: str | None, licensee: str | None, name: str, **options):
        if user is not None:
            User = get_user_model()
            owner = User.objects.filter(username=user).first()
            if owner is None:
                raise CommandError(f"no user named {user!r}")
            if not owner.is_active:
                raise CommandError(f"user {user!r} is inactive")
            api_key, key = api_key_create(name=name, user=owner)
        else:
            try:
                licensee_id = uuid.UUID(licensee)
            except ValueError:
                raise CommandError(f"{licensee!r} is not a licensee id (a uuid)") from None
            owner = Licensee.objects.filter(pk=licensee_id).first()
            if owner is None:
                raise CommandError(f"no licensee with id {licensee}")
            api_key, key = api_key_create(name=name, licensee=owner)
        self.stdout.write(f"id:     {api_key.id}\nprefix: {api_key.prefix}\nowner:  {owner}\nkey:    {key}\n")
        self.stderr.write("Store the key now: it is not shown again.")
