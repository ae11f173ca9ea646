"""``manage.py ensure_admin``: make sure a superuser exists, printing its password once."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from workflows.members import ADMINS


class Command(BaseCommand):
    help = (
        "Create the superuser (default 'admin') with a random password printed once; "
        "when it exists, say so and how to reset its password."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="admin@localhost")

    @transaction.atomic
    def handle(self, *args, username: str, email: str, **options) -> None:
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(
                f"Admin user '{username}' exists. Forgot its password? "
                f"Run: .venv/bin/python manage.py changepassword {username}"
            )
            return
        # Generated, never a fixed default: a portal started with `make run` is reachable by anyone
        # who can reach the port, so a well-known password would be an open door.
        password = secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username=username, email=email, password=password)
        user.groups.add(Group.objects.get_or_create(name=ADMINS)[0])
        rule = "=" * 64
        self.stdout.write(
            "\n".join(
                [
                    rule,
                    f"  Admin user created: username '{username}', password '{password}'",
                    f"  Shown only this once; change it with: .venv/bin/python manage.py changepassword {username}",
                    rule,
                ]
            )
        )
