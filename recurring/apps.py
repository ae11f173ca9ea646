from django.apps import AppConfig


class RecurringAppConfig(AppConfig):
    name = "recurring"
    verbose_name = "Recurring duties and schedules"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Keep schedule bookkeeping (resume watermark, next fire time, celery-beat rows) in step:
        a config on every save (service, admin, API or a plain model save), a template on
        ``template_saved`` — one signal per change, sent by the template domain code — and
        ensure the system beat entries after ``migrate`` (``docs/runtime.md``)."""
        from django.db.models.signals import post_delete, post_migrate, post_save, pre_save

        from notifications.signals import notification_acknowledged
        from workflows.models import WorkflowTemplate
        from workflows.signals import template_saved

        from . import beat
        from .models import RecurringConfig
        from .services import receivers

        for model in (RecurringConfig, WorkflowTemplate):
            label = model._meta.label_lower
            # Reads only: what was stored, so the one reaction after the save can tell a resume.
            pre_save.connect(receivers.remember_schedule_before_save, sender=model, dispatch_uid=f"{label}.before")
            post_delete.connect(receivers.schedule_deleted, sender=model, dispatch_uid=f"{label}.deleted")
        post_save.connect(receivers.config_saved, sender=RecurringConfig, dispatch_uid="recurring.config_saved")
        template_saved.connect(receivers.template_saved, dispatch_uid="recurring.template_saved")
        notification_acknowledged.connect(_close_acknowledged_failure, dispatch_uid="recurring.ack_failure")
        post_migrate.connect(beat.on_post_migrate, sender=self, dispatch_uid="recurring.beat_entries")


def _close_acknowledged_failure(sender, *, notification, by, note, **kwargs) -> None:
    from .services import acknowledge_failures_by_key

    acknowledge_failures_by_key(notification.dedup_key, by=by, note=note)
