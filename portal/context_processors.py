"""What every page's header needs: may the person reach the admin, and which section is open."""

from __future__ import annotations

from django.http import HttpRequest

from workflows.members import is_admin, is_member

#: Path prefixes of the header's sections; the first match marks its link as the current page.
NAV_SECTIONS = (
    ("/notifications/", "notifications"),
    ("/today/", "today"),
    ("/insights/", "insights"),
    ("/workflows/", "workflows"),
    ("/runs/", "workflows"),
    ("/recurring/", "recurring"),
)


#: The header's links: URL name, label, section.
NAV_LINKS = (
    ("index", "Home", "home"),
    ("start-today", "Start today", "today"),
    ("run-list", "Workflows", "workflows"),
    ("recurring-list", "Recurring", "recurring"),
    ("insights", "Insights", "insights"),
)


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    path = request.path
    section = "home" if path == "/" or path.startswith("/tasks/") else ""
    for prefix, name in NAV_SECTIONS:
        if path.startswith(prefix):
            section = name
            break
    return {
        "nav_section": section,
        "nav_links": NAV_LINKS,
        # Group membership is cached on the user by the login middleware: no extra query.
        "user_is_portal_member": bool(user is not None and is_member(user)),
        "user_is_portal_admin": bool(user is not None and is_admin(user)),
    }
