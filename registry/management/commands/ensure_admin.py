"""Create the quick-start admin account if no superuser exists, and print its credentials once.

ADMIN_USERNAME / ADMIN_PASSWORD / ADMIN_EMAIL set them; otherwise the user is `admin` with a random
password, written to var/admin-password so it can be read again."""
import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the first admin account (metastore admin) if there is none."

    def handle(self, *args, **options):
        User = get_user_model()
        username = os.environ.get("ADMIN_USERNAME", "admin")
        if User.objects.filter(is_superuser=True).exists():
            existing = User.objects.filter(is_superuser=True).order_by("pk").first()
            hint = settings.VAR_DIR / "admin-password"
            extra = f" (password in {hint})" if hint.exists() and existing.get_username() == "admin" else ""
            self.stdout.write(f"Admin account: {existing.get_username()}{extra}")
            return
        password = os.environ.get("ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser(username, os.environ.get("ADMIN_EMAIL", ""), password)
        if not os.environ.get("ADMIN_PASSWORD"):
            path = settings.VAR_DIR / "admin-password"
            path.write_text(password + "\n")
            path.chmod(0o600)
        self.stdout.write(f"Created admin account: user {username!r}, password {password!r}")
