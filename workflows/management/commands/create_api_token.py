"""``manage.py create_api_token USERNAME``: print that person's API token (created if needed).

The token is printed alone on the last line so scripts can take it with ``tail -n 1``. Running it
again prints the same token; an unknown or inactive account exits non-zero with one line saying why.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rest_framework.authtoken.models import Token

from workflows.members import is_member


class Command(BaseCommand):
    help = "Print the REST API token of USERNAME (creating it when it does not exist yet)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args, username: str, **options) -> None:
        User = get_user_model()
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"No user named '{username}'.") from None
        if not user.is_active:
            raise CommandError(f"User '{username}' is inactive; activate the account first.")
        if not is_member(user):
            # Still printed (an admin may add the group later), but the API would answer 403.
            self.stderr.write(
                f"Warning: '{username}' is not in Operators or Admins; the API refuses them until they are."
            )
        token, created = Token.objects.get_or_create(user=user)
        self.stderr.write(f"{'Created a new' if created else 'Existing'} API token for '{username}':")
        self.stdout.write(token.key)
