"""Records of the portal itself (not of the work it runs)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ExportCheck(models.Model):
    """One validation of an export: where it was, what it held and every problem found, so the
    admin's export page can show the last result. See ``docs/export.md``."""

    class Source(models.TextChoices):
        ADMIN = "admin", "Admin download"
        COMMAND = "command", "validate_export command"

    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    location = models.CharField(max_length=1000, blank=True)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ok = models.BooleanField()
    counts = models.JSONField(default=dict, blank=True)
    problem_count = models.PositiveIntegerField(default=0)
    problems = models.JSONField(default=list, blank=True, help_text="The first problems found, one line each.")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(source__in=["admin", "command"]), name="export_check_source_valid"
            )
        ]

    #: A broken export can hold a problem per line; the record keeps the first ones.
    KEPT_PROBLEMS = 200

    def __str__(self) -> str:
        return f"Export check {self.created_at:%Y-%m-%d %H:%M} ({'clean' if self.ok else 'problems'})"

    @classmethod
    def record(cls, report, *, source: str, location: str = "", by=None) -> ExportCheck:
        """Store the result of one ``validate_export`` run."""
        return cls.objects.create(
            source=source,
            location=str(location)[:1000],
            checked_by=by if getattr(by, "is_authenticated", False) else None,
            ok=report.ok,
            counts=report.counts,
            problem_count=len(report.problems),
            problems=[str(p) for p in report.problems[: cls.KEPT_PROBLEMS]],
        )
