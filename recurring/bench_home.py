"""Part (f) of ``manage.py bench``: Operations Home, the task list and the notifications page at
growing amounts of work (``docs/runtime.md``).

The data: 20 operators, 1,000 recurring configs, 300 active runs (and 30 paused ones, whose tasks
stay off Home), then tasks added in steps up to each size — mostly finished history, some overdue,
waiting (follow-up due or not), due today (a third needing a proof note), due in the coming week
and later — spread over configs, runs and manual work, a tenth unassigned. At each size every page
is requested once to warm up and then ``REPEATS`` times: p50, p95, SQL queries and
bytes. With ``explain``, the plans of Home's queries at the largest size are printed
(``EXPLAIN ANALYZE`` on PostgreSQL, ``EXPLAIN QUERY PLAN`` and the query's time on SQLite).

Only for the benchmark's scratch database (the caller checks).
"""

from __future__ import annotations

import datetime as dt
import math
import random
import time
from collections.abc import Callable

REPEATS = 21
CONFIGS = 1000
ACTIVE_RUNS = 300
PAUSED_RUNS = 30
PEOPLE = 20
HOME_P50_TARGET_MS = 100
HOME_RATIO_TARGET = 1.5
HOME_HTML_TARGET_KB = 150


class HomeBench:
    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write
        self.made = 0

    # ---- data --------------------------------------------------------------------------------
    def setup(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group
        from django.utils import timezone

        from recurring.models import RecurringConfig
        from workflows.members import OPERATORS
        from workflows.models import Run, RunStatus, WorkflowTemplate, portal_today

        User = get_user_model()
        group = Group.objects.get_or_create(name=OPERATORS)[0]
        self.people = [User.objects.create(username=f"bench-home-{n:02d}") for n in range(PEOPLE)]
        group.user_set.add(*self.people)
        self.today = portal_today()
        now = timezone.now()
        self.configs = RecurringConfig.objects.bulk_create(
            [
                RecurringConfig(
                    title=f"Duty {n:04d}",
                    cron_expression="0 9 * * *",
                    timezone="UTC",
                    starts_on=self.today,
                    assignee=self.people[n % PEOPLE],
                    enabled=False,
                    created_at=now,
                    updated_at=now,
                )
                for n in range(CONFIGS)
            ],
            batch_size=500,
        )
        template = WorkflowTemplate.objects.create(name="Bench launch", stages=["prepare", "ship"])
        self.runs = Run.objects.bulk_create(
            [
                Run(
                    template=template,
                    title=f"Launch {n:03d}",
                    anchor_date=self.today + dt.timedelta(days=n - 250),  # one run per template and day
                    status=RunStatus.ACTIVE if n < ACTIVE_RUNS else RunStatus.PAUSED,
                    current_stage="prepare",
                )
                for n in range(ACTIVE_RUNS + PAUSED_RUNS)
            ],
            batch_size=500,
        )

    def grow_to(self, size: int) -> None:
        """Add tasks until there are ``size`` of them."""
        from django.db import transaction
        from django.utils import timezone

        from workflows.models import Priority, Task, TaskSource, TaskStatus

        now = timezone.now()
        today = self.today
        priorities = [Priority.NORMAL, Priority.NORMAL, Priority.HIGH, Priority.LOW, Priority.URGENT]
        rows = []
        for i in range(self.made, size):
            pick = random.Random(i).random()
            extra: dict = {}
            if pick < 0.80:
                due, status = today - dt.timedelta(days=1 + i % 365), TaskStatus.DONE
                extra = {"completed_at": now}
            elif pick < 0.85:
                due, status = today - dt.timedelta(days=1 + i % 60), TaskStatus.TODO
            elif pick < 0.87:
                due, status = today - dt.timedelta(days=i % 5), TaskStatus.WAITING
                extra = {"waiting_for": "Supplier", "follow_up_at": today - dt.timedelta(days=i % 10)}
            elif pick < 0.89:
                due, status = today + dt.timedelta(days=i % 5), TaskStatus.WAITING
                extra = {"waiting_for": "Client", "follow_up_at": today + dt.timedelta(days=1 + i % 14)}
            elif pick < 0.905:
                due, status = today, (TaskStatus.TODO if i % 2 else TaskStatus.IN_PROGRESS)
                extra = {"requires_proof_note": i % 3 == 0}
            elif pick < 0.95:
                due, status = today + dt.timedelta(days=1 + i % 7), TaskStatus.TODO
            else:
                due, status = today + dt.timedelta(days=8 + i % 120), TaskStatus.TODO
            kind = i % 3
            if kind == 0:
                source = {
                    "source": TaskSource.TEMPLATE,
                    "run": self.runs[i % len(self.runs)],
                    "template_task_ref": f"t{i}",
                    "stage": "prepare",
                }
            elif kind == 1:
                source = {
                    "source": TaskSource.RECURRING,
                    "recurring_config": self.configs[i % CONFIGS],
                    "window_date": dt.date(2000, 1, 1) + dt.timedelta(days=i // CONFIGS),
                }
            else:
                source = {"source": TaskSource.MANUAL}
            rows.append(
                Task(
                    title=f"Task {i:06d}",
                    due_date=due,
                    status=status,
                    priority=priorities[i % len(priorities)],
                    assignee=None if i % 10 == 9 else self.people[i % PEOPLE],
                    created_at=now,
                    updated_at=now,
                    **source,
                    **extra,
                )
            )
        with transaction.atomic():
            Task.objects.bulk_create(rows, batch_size=2000)
        self.made = size
        from django.db import connection

        # The tables as they are in service after such a load: on SQLite with the statistics of
        # the nightly job (``refresh_database_statistics``); on PostgreSQL as autovacuum leaves
        # them (it vacuums a table that took many inserts, which also marks its pages all-visible,
        # so counts can be read from an index alone).
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")

    # ---- measuring ---------------------------------------------------------------------------
    def pages(self) -> list[tuple[str, str]]:
        from workflows.keyset import Cursor
        from workflows.models import Task

        last = list(Task.objects.filter(archived_at__isnull=True).order_by("-due_date", "-id")[:50])
        after = Task.objects.filter(archived_at__isnull=True).order_by("-due_date", "-id")[50:51]
        tail = Cursor.of(after[0]).encode() if after else ""
        assert last
        return [
            ("Home HTML (mine)", "/"),
            ("Home HTML (all)", "/?scope=all"),
            ("Home API (all)", "/api/v1/home/"),
            ("Home API (mine, 20/group)", "/api/v1/home/?scope=mine&limit=20"),
            ("task list API, first page", "/api/v1/tasks/?page_size=50"),
            ("task list API, last page", f"/api/v1/tasks/?page_size=50&cursor={tail}"),
            ("task list page, overdue", "/tasks/?group=overdue&scope=all"),
            ("task list page, last page", f"/tasks/?cursor={tail}"),
            ("notifications (baseline)", "/notifications/"),
        ]

    def measure(self, size: int) -> dict[str, tuple[float, float, int, int]]:
        import gc

        # As the WSGI entry point does once loaded (portal/wsgi.py): what exists now (here also
        # the benchmark's own data) stays out of the collector's way while pages are measured.
        gc.collect()
        gc.freeze()
        try:
            return self._measure(size)
        finally:
            gc.unfreeze()

    def _measure(self, size: int) -> dict[str, tuple[float, float, int, int]]:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        client = signed_in_client(self.people[0])
        results = {}
        self.write(f"(f) {size:,} tasks ({CONFIGS:,} configs, {ACTIVE_RUNS} active runs), {connection.vendor}:")
        for label, path in self.pages():
            client.get(path)  # warm up
            times, size_bytes, queries = [], 0, 0
            for _ in range(REPEATS):
                with CaptureQueriesContext(connection) as captured:
                    start = time.perf_counter()
                    response = client.get(path)
                    times.append(time.perf_counter() - start)
                if response.status_code != 200:
                    raise RuntimeError(f"{path} answered {response.status_code}: {response.content[:300]!r}")
                size_bytes, queries = len(response.content), len(captured.captured_queries)
            times.sort()
            p50, p95 = times[len(times) // 2] * 1000, times[math.ceil(0.95 * len(times)) - 1] * 1000
            results[label] = (p50, p95, queries, size_bytes)
            self.write(
                f"    {label:<28} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   {queries:3d} queries   "
                f"{size_bytes / 1024:7.1f} KB"
            )
        return results

    def verdict(self, smallest: dict, largest: dict, small: int, large: int) -> None:
        for label in ("Home HTML (mine)", "Home HTML (all)", "Home API (all)"):
            (p50_small, _, q_small, _), (p50_large, _, q_large, kb) = smallest[label], largest[label]
            ratio = p50_large / p50_small
            fast = "ok" if p50_large <= HOME_P50_TARGET_MS else "OVER"
            flat = "ok" if ratio <= HOME_RATIO_TARGET else "OVER"
            checks = [
                f"p50 {p50_large:.0f} ms ({fast} ≤ {HOME_P50_TARGET_MS})",
                f"{ratio:.2f}× of {small:,} ({flat} ≤ {HOME_RATIO_TARGET})",
                f"queries {q_small}→{q_large} ({'constant' if q_small == q_large else 'CHANGED'})",
            ]
            if "HTML" in label:
                size_kb = kb / 1024
                light = "ok" if size_kb <= HOME_HTML_TARGET_KB else "OVER"
                checks.append(f"{size_kb:.0f} KB ({light} ≤ {HOME_HTML_TARGET_KB})")
            self.write(f"    {label} at {large:,}: " + "; ".join(checks))
        first, last = largest["task list API, first page"][0], largest["task list API, last page"][0]
        self.write(
            f"    task list API at {large:,}: last page {last:.1f} ms vs first {first:.1f} ms = {last / first:.2f}× "
            f"({'ok' if last / first <= HOME_RATIO_TARGET else 'OVER'} ≤ {HOME_RATIO_TARGET})"
        )

    def explain(self) -> None:
        """The plans of the queries Home (and the task list's last page) really ran: each page is
        requested once with its SQL captured, and every query that reads tasks is explained."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        client = signed_in_client(self.people[0])
        self.write(f"    Plans of Home's queries at {self.made:,} tasks ({connection.vendor}):")
        pages = dict(self.pages())
        for label in ("Home HTML (mine)", "task list API, last page"):
            with CaptureQueriesContext(connection) as captured:
                client.get(pages[label])
            for number, query in enumerate(captured.captured_queries, 1):
                sql = query["sql"]
                # (PostgreSQL gets a UNION ALL with each part in brackets.)
                if not sql.lstrip("(").startswith("SELECT") or "workflows_task" not in sql.split(" WHERE ")[0]:
                    continue
                prefix = "EXPLAIN ANALYZE " if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN "
                with connection.cursor() as cursor:
                    start = time.perf_counter()
                    cursor.execute(sql)
                    cursor.fetchall()
                    took = (time.perf_counter() - start) * 1000
                    cursor.execute(prefix + sql)
                    plan = [" ".join(str(part) for part in row) for row in cursor.fetchall()]
                self.write(f"    -- {label}, query {number} ({took:.1f} ms): {sql[:160]}…")
                for line in plan:
                    self.write(f"       {line}")


def signed_in_client(user):
    """A test client with a session for ``user``, made without the login signal (the login
    throttle records the client's address, which a test request does not have)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.test import Client

    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    return client


def run(write: Callable[[str], None], sizes: list[int], *, explain: bool) -> None:
    bench = HomeBench(write)
    bench.setup()
    measured = {}
    for size in sorted(sizes):
        bench.grow_to(size)
        measured[size] = bench.measure(size)
    small, large = min(sizes), max(sizes)
    bench.verdict(measured[small], measured[large], small, large)
    if explain:
        bench.explain()
