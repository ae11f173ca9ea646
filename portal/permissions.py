from rest_framework.permissions import BasePermission

from workflows.members import is_member


class IsPortalMember(BasePermission):
    """Operators, Admins and superusers may use the whole API; anyone else is refused."""

    message = "You must be a member of Operators or Admins to use the API."

    def has_permission(self, request, view) -> bool:
        return is_member(request.user)
