"""create_token <username> [--days N] [--name NAME]: prints a new personal access token alone on its last line."""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from registry.errors import RegistryError
from registry.services.tokens import token_create


class Command(BaseCommand):
    help = "Create a personal access token for a user and print it (it cannot be shown again)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--days", type=int, default=None, help="days until it expires (0: never)")
        parser.add_argument("--name", default="cli", help="a label to recognise the token by")

    def handle(self, *args, username, days, name, **options):
        User = get_user_model()
        user = User.objects.filter(**{User.USERNAME_FIELD: username}).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        try:
            token, secret = token_create(actor=user, user=user, name=name, days=days)
        except RegistryError as exc:
            raise CommandError(exc.message) from None
        expiry = token.expires_at.isoformat() if token.expires_at else "never"
        self.stdout.write(f"Token {token.name!r} for {username} (expires: {expiry}). Store it now; it is not kept.")
        self.stdout.write(secret)
