from django.db import connection
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from workflows.models import ACTIONABLE_STATUSES, Task, TaskStatus, portal_today

MY_WORK_LIMIT = 200


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Open to anyone (load balancers): answers 200 when the database answers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - any database failure means unhealthy
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok"})


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """The signed-in person's open work (assigned to them or to nobody), soonest first."""
    tasks = list(
        Task.objects.on_home()
        .filter(Q(assignee=request.user) | Q(assignee__isnull=True))
        .select_related("assignee", "recurring_config", "run")
        .order_by("due_date", "due_time", "title")[:MY_WORK_LIMIT]
    )
    today = portal_today()
    for task in tasks:
        # Waiting work is governed by its follow-up date, never by its due date.
        actionable = task.status in ACTIONABLE_STATUSES
        task.days_overdue = (today - task.due_date).days if actionable and task.due_date < today else 0
        task.follow_up_due = task.status == TaskStatus.WAITING and task.follow_up_at <= today
    return render(request, "portal/index.html", {"tasks": tasks, "today": today, "limit": MY_WORK_LIMIT})
