from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from licensing.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        owner = parser.add_mutually_exclusive_group(required=True)
        owner.add_argument("--user", help="username the key acts for")
        parser.add_argument("--name", default="command-line key", help="a label to recognise the key by")

    def handle(self, *args, user: str, name: str, **options):
        User = get_user_model()
        try:
            owner = User.objects.get(username=user)
        except User.DoesNotExist:
            raise CommandError(f"no user named {user!r}") from None
        if not owner.is_active:
            raise CommandError(f"user {user!r} is inactive")
        api_key, key = api_key_create(name=name, user=owner)
        self.stdout.write(f"id:     {api_key.id}\nprefix: {api_key.prefix}\nkey:    {key}\n")
        self.stderr.write("Store the key now: it is not shown again.")
