"""The task actions Start today offers, performed by the same code as the task page."""

from __future__ import annotations

from django.http import HttpRequest

from workflows.models import Task
from workflows.views import _perform

TODAY_ACTIONS = ("start", "complete", "wait", "follow-up-sent", "response-received", "skip", "proof", "comment")


def perform_today_action(task: Task, action: str, request: HttpRequest) -> str:
    """Perform ``action`` on ``task`` from the posted form; returns what happened."""
    return _perform(task, action, request)
