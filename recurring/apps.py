from django.apps import AppConfig


class RecurringConfig(AppConfig):
    name = "recurring"
    verbose_name = "Recurring duties and schedules"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Keep schedule bookkeeping (resume watermark, next fire time, celery-beat rows) in step
        with every save of a config or template — service, admin, API or a plain model save —
        and ensure the system beat entries after ``migrate``."""
        from django.db.models.signals import post_delete, post_migrate, post_save, pre_save

        from notifications.signals import notification_acknowledged
        from workflows.models import WorkflowTemplate
        from workflows.signals import template_saved

        from . import beat, services
        from .models import RecurringConfig

        for model in (RecurringConfig, WorkflowTemplate):
            label = model._meta.label_lower
            pre_save.connect(services.remember_schedule_before_save, sender=model, dispatch_uid=f"{label}.before")
            post_save.connect(services.schedule_saved, sender=model, dispatch_uid=f"{label}.saved")
            post_delete.connect(services.schedule_deleted, sender=model, dispatch_uid=f"{label}.deleted")
        template_saved.connect(services.template_saved, dispatch_uid="recurring.template_saved")
        notification_acknowledged.connect(_close_acknowledged_failure, dispatch_uid="recurring.ack_failure")
        post_migrate.connect(beat.on_post_migrate, sender=self, dispatch_uid="recurring.beat_entries")


def _close_acknowledged_failure(sender, *, notification, by, note, **kwargs) -> None:
    from .services import acknowledge_failures_by_key

    acknowledge_failures_by_key(notification.dedup_key, by=by, note=note)
