from django.apps import AppConfig


class RecurringConfig(AppConfig):
    name = "recurring"
    verbose_name = "Recurring duties and schedules"
    default_auto_field = "django.db.models.BigAutoField"
