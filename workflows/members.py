"""Who belongs to the portal: the two roles and the one rule for each.

*Operators* use the portal pages and the whole REST API; *Admins* additionally reach the Django
admin. Superusers may do everything. Group membership is the single source of truth: the pages,
the API, the admin, assignee choices and notification recipients all ask this module.
(``portal.roles`` creates the groups; nothing else about membership lives anywhere else.)
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet

OPERATORS = "Operators"
ADMINS = "Admins"


def members() -> QuerySet:
    """People who may use the portal and be assigned work: active members of Operators or
    Admins, and active superusers."""
    User = get_user_model()
    return (
        User.objects.filter(is_active=True)
        .filter(Q(groups__name__in=[OPERATORS, ADMINS]) | Q(is_superuser=True))
        .distinct()
    )


def admins() -> QuerySet:
    """People who may reach the Django admin: active Admins and superusers."""
    User = get_user_model()
    return User.objects.filter(is_active=True).filter(Q(groups__name=ADMINS) | Q(is_superuser=True)).distinct()


def _group_names(user) -> set[str]:
    cached = getattr(user, "_portal_group_names", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True)) if user.is_authenticated else set()
        user._portal_group_names = cached
    return cached


def is_member(user: AnonymousUser) -> bool:
    """May use the portal pages and the API: Operators, Admins and superusers (active ones)."""
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or bool(_group_names(user) & {OPERATORS, ADMINS})


def is_admin(user: AnonymousUser) -> bool:
    """May reach the Django admin: Admins and superusers (never plain operators)."""
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or ADMINS in _group_names(user)
