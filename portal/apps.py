from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Operations portal"

    def ready(self) -> None:
        from .roles import ensure_roles

        # Not sender=self: the Admins group must see every app's permissions, which exist only
        # after each app's own post_migrate. ensure_roles is idempotent, so running after each
        # app is harmless.
        post_migrate.connect(ensure_roles, dispatch_uid="portal.ensure_roles")
