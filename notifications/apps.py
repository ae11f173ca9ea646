from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from workflows.signals import run_instantiated, run_stage_changed

        from . import services

        run_stage_changed.connect(services.on_run_stage_changed, dispatch_uid="notifications.stage_change")
        run_instantiated.connect(services.on_run_instantiated, dispatch_uid="notifications.workflow_created")
