"""The two roles of the portal and who may reach what.

*Operators* use the portal pages and the whole REST API; *Admins* additionally reach the Django
admin. Superusers may do everything. Group membership is the single source of truth.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, Group, Permission, User

OPERATORS = "Operators"
ADMINS = "Admins"


def _group_names(user: User | AnonymousUser) -> set[str]:
    cached = getattr(user, "_portal_group_names", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True)) if user.is_authenticated else set()
        user._portal_group_names = cached
    return cached


def is_portal_member(user: User | AnonymousUser) -> bool:
    """May use the portal pages and the API: Operators, Admins and superusers."""
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or bool(_group_names(user) & {OPERATORS, ADMINS})


def is_portal_admin(user: User | AnonymousUser) -> bool:
    """May reach the Django admin: Admins and superusers (never plain operators)."""
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or ADMINS in _group_names(user)


def ensure_roles(**_kwargs) -> None:
    """Create both groups; Admins hold every model permission so the admin is fully usable."""
    Group.objects.get_or_create(name=OPERATORS)
    admins, _ = Group.objects.get_or_create(name=ADMINS)
    admins.permissions.set(Permission.objects.all())
