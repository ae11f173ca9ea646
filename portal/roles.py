"""Sets the two roles up: both groups exist after every migrate, and Admins hold every model
permission so the admin is fully usable. Who is a member is decided in ``workflows.members``."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

from workflows.members import ADMINS, OPERATORS


def ensure_roles(**_kwargs) -> None:
    """Create both groups; Admins hold every model permission so the admin is fully usable."""
    Group.objects.get_or_create(name=OPERATORS)
    admins, _ = Group.objects.get_or_create(name=ADMINS)
    admins.permissions.set(Permission.objects.all())
