"""``manage.py bench``: how generation scales (``docs/runtime.md``).

Prints, in one run:

(a) the time to backfill one year of a daily config for 1,000 configs (365,000 tasks) through
    ``services.backfill``;
(b) the time of a plain ``bulk_create`` of the same 365,000 Task rows, and the ratio (a)/(b)
    (target at most 3, aim 1.5);
(c) the time of one ``reconcile`` pass over 10,000 enabled schedules of which 100 are due
    (aim under 1 s);
(d) the time and peak memory (resident set) of ``export_data`` over 100,000 tasks with their
    history and proof, run as its own process (target under 200 MB: the export streams).

(e) Start today and Insights (pages and API) over 100,000 tasks: 1,000 daily duties with 100 days
    of history each (started and completed), today's windows still open: p50 and p95 over 7
    requests, SQL queries per request and bytes.

(f) Operations Home (page and API), the task list (API and page, first and last page) and the
    notifications page as the baseline, at 1,000, 10,000 and 100,000 tasks (1,000 configs, 300
    active runs; ``--home-sizes``): p50 and p95, SQL queries and bytes, checked against Home's
    targets (see ``recurring/bench_home.py``); ``--explain`` prints the plans of Home's queries at
    the largest size.

``--only generation``, ``--only export``, ``--only today`` or ``--only home`` runs one part.

It never touches real data: the command re-runs itself in a child process whose settings point
at a scratch SQLite file in a new temporary folder (``DATABASE_URL``), migrates it, measures,
and deletes the folder. The configured database is not opened. The child refuses to run unless
its database is that scratch file. ``--database-url postgres://user@host:port/any`` measures on
that PostgreSQL server instead: the parent creates a scratch database there
(``portal_bench_<random>``), the child runs in it, and the parent drops it afterwards.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import io
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

SCRATCH_ENV = "PORTAL_BENCH_SCRATCH_DB"
RATIO_TARGET = 3.0
RATIO_AIM = 1.5
RECONCILE_AIM_SECONDS = 1.0
EXPORT_PEAK_TARGET_MB = 200


class Command(BaseCommand):
    help = (
        "Benchmark generation on a scratch SQLite database (never the configured one): backfill vs plain "
        "bulk_create, and one reconcile pass."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--configs", type=int, default=1000, help="Daily configs to backfill (default 1000).")
        parser.add_argument("--days", type=int, default=365, help="Days backfilled per config (default 365).")
        parser.add_argument("--schedules", type=int, default=10000, help="Enabled schedules (default 10000).")
        parser.add_argument("--due", type=int, default=100, help="How many of them are due (default 100).")
        parser.add_argument(
            "--export-tasks", type=int, default=100_000, help="Tasks in the export benchmark (default 100000)."
        )
        parser.add_argument(
            "--history-tasks", type=int, default=100_000, help="Tasks behind Start today and Insights (default 100000)."
        )
        parser.add_argument(
            "--only",
            choices=["all", "generation", "export", "today", "home"],
            default="all",
            help="Run one part (default all).",
        )
        parser.add_argument(
            "--profile", action="store_true", help="Also print where the backfill spends its time (cProfile)."
        )
        parser.add_argument(
            "--home-sizes",
            default="1000,10000,100000",
            help="Task counts Home is measured at, comma-separated (default 1000,10000,100000).",
        )
        parser.add_argument(
            "--database-url",
            default="",
            help="Measure on this PostgreSQL server, in a scratch database created and dropped there.",
        )
        parser.add_argument("--explain", action="store_true", help="Print the plans of Home's queries (part f).")
        # Internal: set when the command runs itself inside the scratch database.
        parser.add_argument("--in-scratch-db", action="store_true", help="(internal)")

    def handle(self, *args, **options) -> None:
        for name in ("configs", "days", "schedules", "export_tasks", "history_tasks"):
            if options[name] < 1:
                raise CommandError(f"--{name.replace('_', '-')} must be at least 1.")
        if not 0 <= options["due"] <= options["schedules"]:
            raise CommandError("--due must be between 0 and --schedules.")
        if options["days"] > 366:
            raise CommandError("--days must be at most 366 (the longest backfill allowed).")
        try:
            sizes = [int(part) for part in options["home_sizes"].split(",") if part.strip()]
        except ValueError:
            sizes = []
        if not sizes or min(sizes) < 1:
            raise CommandError("--home-sizes must be whole numbers of tasks, comma-separated, e.g. 1000,10000.")
        options["home_size_list"] = sizes
        url = options["database_url"]
        if url and not url.startswith(("postgres://", "postgresql://")):
            raise CommandError("--database-url must be a PostgreSQL URL (postgres://user@host:port/database).")
        if options["in_scratch_db"]:
            self._measure(options)
        else:
            self._run_in_scratch_database(options)

    # -- parent: a child process on a scratch database ----------------------------------------

    @contextmanager
    def _scratch_postgres(self, url: str) -> Iterator[tuple[str, str]]:
        """A new database on the server of ``url`` (dropped afterwards): (its URL, its name)."""
        import secrets
        from urllib.parse import urlsplit, urlunsplit

        import psycopg

        parts = urlsplit(url)
        name = f"portal_bench_{secrets.token_hex(4)}"
        admin_url = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield urlunsplit(parts._replace(path=f"/{name}")), name
        finally:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _run_in_scratch_database(self, options: dict) -> None:
        with tempfile.TemporaryDirectory(prefix="portal-bench-") as folder:
            database = Path(folder) / "bench.sqlite3"
            if options["database_url"]:
                with self._scratch_postgres(options["database_url"]) as (url, name):
                    self.stdout.write(f"Scratch PostgreSQL database {name} (dropped afterwards).")
                    self._run_child(options, folder, url, name)
                return
            self.stdout.write(
                f"Scratch SQLite database {database} (deleted afterwards); the configured database is not used."
            )
            self._run_child(options, folder, f"sqlite:///{database}", str(database))

    def _run_child(self, options: dict, folder: str, database_url: str, scratch: str) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            SCRATCH_ENV: scratch,
            "PORTAL_VAR_DIR": folder,
            # Thousands of schedules is exactly when the per-schedule beat entries are off.
            "PORTAL_BEAT_PER_SCHEDULE": "0",
            "PORTAL_LOG_LEVEL": "WARNING",
            # As in production: with DEBUG on, Django records and formats every query.
            "DEBUG": "0",
        }
        command = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "bench", "--in-scratch-db"]
        for name in ("configs", "days", "schedules", "due", "export_tasks", "history_tasks", "only"):
            command += [f"--{name.replace('_', '-')}", str(options[name])]
        command += ["--home-sizes", options["home_sizes"]]
        if options["profile"]:
            command.append("--profile")
        if options["explain"]:
            command.append("--explain")
        child = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=settings.BASE_DIR
        )
        assert child.stdout is not None
        for line in child.stdout:
            self.stdout.write(line.rstrip("\n"))
        if child.wait() != 0:
            raise CommandError(f"The benchmark failed (exit status {child.returncode}); see the output above.")

    # -- child: measure ---------------------------------------------------------------------

    def _measure(self, options: dict) -> None:
        from django.db import connection

        scratch = os.environ.get(SCRATCH_ENV)
        if (
            not scratch
            or connection.vendor not in ("sqlite", "postgresql")
            or str(connection.settings_dict["NAME"]) != scratch
        ):
            raise CommandError("Refusing to run: this process is not on the benchmark's scratch database.")
        call_command("migrate", verbosity=0, interactive=False)

        from django.contrib.auth import get_user_model

        user = get_user_model().objects.create(username="bench-operator", email="bench@example.com")
        if options["only"] in ("all", "generation"):
            self._measure_generation(user, options)
        if options["only"] in ("all", "export"):
            self._measure_export(user, options["export_tasks"])
        if options["only"] in ("all", "today"):
            self._measure_today_and_insights(options["history_tasks"])
        if options["only"] in ("all", "home"):
            from recurring import bench_home

            bench_home.run(self.stdout.write, options["home_size_list"], explain=options["explain"])
        load, cpus = os.getloadavg()[0], os.cpu_count() or 1
        if load > cpus:
            self.stdout.write(
                f"Note: the machine is busy (load {load:.1f} on {cpus} CPUs), so wall times are inflated; "
                "CPU times are not."
            )

    def _measure_generation(self, user, options: dict) -> None:
        configs, days = options["configs"], options["days"]
        backfill, bulk, generated = self._backfill_vs_bulk_create(user, configs, days, profile=options["profile"])
        expected = configs * days
        self.stdout.write(
            f"(a) backfill: {configs:,} daily configs × {days} days = {generated:,} tasks "
            f"in {backfill} ({generated / backfill.wall:,.0f} tasks/s)"
        )
        if generated != expected:
            self.stdout.write(f"    WARNING: expected {expected:,} tasks, the backfill generated {generated:,}")
        self.stdout.write(
            f"(b) bulk_create: the same {expected:,} Task rows in {bulk} ({expected / bulk.wall:,.0f} rows/s)"
        )
        ratio = backfill.wall / bulk.wall
        verdict = "OVER TARGET" if ratio > RATIO_TARGET else ("within aim" if ratio <= RATIO_AIM else "within target")
        self.stdout.write(
            f"    ratio (a)/(b): {ratio:.2f} (CPU time {backfill.cpu / bulk.cpu:.2f}; "
            f"target ≤ {RATIO_TARGET:g}, aim {RATIO_AIM:g}) — {verdict}"
        )
        reconcile, picked, tasks = self._reconcile(
            user, options["schedules"], options["due"], profile=options["profile"]
        )
        verdict = "within aim" if reconcile.wall < RECONCILE_AIM_SECONDS else "OVER AIM"
        self.stdout.write(
            f"(c) reconcile: {options['schedules']:,} enabled schedules, {options['due']:,} due: "
            f"{reconcile}, {picked} generated, {tasks} task(s) (aim < {RECONCILE_AIM_SECONDS:g} s) — {verdict}"
        )

    def _measure_export(self, user, count: int) -> None:
        """(d): ``count`` recurring tasks (100 duties), each with a history entry, every fifth
        done with a note proof; then ``export_data`` in a process of its own, whose peak resident
        set is what ``getrusage`` reports for its children."""
        import resource

        from django.db import transaction
        from django.utils import timezone

        from recurring.models import RecurringConfig
        from workflows.models import CommentKind, Proof, ProofKind, Task, TaskComment, TaskSource, TaskStatus

        now = timezone.now()
        duties = 100
        per_duty = -(-count // duties)
        first_day = now.date() - dt.timedelta(days=per_duty)
        configs = RecurringConfig.objects.bulk_create(
            [
                RecurringConfig(
                    title=f"Export duty {n:03d}",
                    cron_expression="0 9 * * *",
                    timezone="UTC",
                    starts_on=first_day,
                    assignee=user,
                    enabled=False,
                    requires_proof_note=True,
                    created_at=now,
                    updated_at=now,
                )
                for n in range(duties)
            ]
        )
        made = 0
        with transaction.atomic():
            for config in configs:
                todo = min(per_duty, count - made)
                if todo <= 0:
                    break
                tasks = []
                for day_number in range(todo):
                    day = first_day + dt.timedelta(days=day_number)
                    done = (made + day_number) % 5 == 0
                    tasks.append(
                        Task(
                            title=config.title,
                            instructions="Check the queue and handle every new item.",
                            due_date=day,
                            assignee=user,
                            source=TaskSource.RECURRING,
                            recurring_config=config,
                            window_date=day,
                            requires_proof_note=True,
                            status=TaskStatus.DONE if done else TaskStatus.TODO,
                            completed_at=now if done else None,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                Task.objects.bulk_create(tasks, batch_size=2000)
                TaskComment.objects.bulk_create(
                    [TaskComment(task=t, kind=CommentKind.EVENT, body="Generated by the schedule.") for t in tasks],
                    batch_size=2000,
                )
                Proof.objects.bulk_create(
                    [
                        Proof(task=t, kind=ProofKind.NOTE, note="Handled every item.", created_by=user)
                        for t in tasks
                        if t.status == TaskStatus.DONE
                    ],
                    batch_size=2000,
                )
                made += todo
        with tempfile.TemporaryDirectory(prefix="portal-bench-export-") as folder:
            command = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "export_data", f"{folder}/out"]
            start = time.perf_counter()
            completed = subprocess.run(command, capture_output=True, text=True, cwd=settings.BASE_DIR, check=False)
            wall = time.perf_counter() - start
            if completed.returncode != 0:
                raise CommandError(f"export_data failed: {completed.stdout}{completed.stderr}")
            size = sum(path.stat().st_size for path in Path(folder, "out").iterdir())
        # ru_maxrss of the children is in kilobytes on Linux; export_data is this process's only child.
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak_mb, cpu = usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime
        verdict = "within target" if peak_mb < EXPORT_PEAK_TARGET_MB else "OVER TARGET"
        self.stdout.write(
            f"(d) export_data: {made:,} tasks (+ their history and proof, {size / 1e6:,.1f} MB of JSONL) in "
            f"{wall:.1f} s (CPU {cpu:.1f} s), peak memory {peak_mb:,.0f} MB "
            f"(target < {EXPORT_PEAK_TARGET_MB} MB) — {verdict}"
        )

    def _measure_today_and_insights(self, count: int) -> None:
        """(e): ``count`` tasks of 1,000 daily duties (100 days each, shared by 20 operators), all
        done with a start and a completion except today's; then, once the planner's statistics are
        refreshed (the nightly system entry), the Start today and Insights pages and API for one
        operator, measured through the test client."""
        from django.contrib.auth.models import Group
        from django.db import connection, transaction
        from django.test import Client
        from django.test.utils import CaptureQueriesContext
        from django.utils import timezone

        from recurring.models import RecurringConfig
        from workflows.members import OPERATORS
        from workflows.models import Task, TaskSource, TaskStatus, portal_today

        User = get_user_model()
        group = Group.objects.get_or_create(name=OPERATORS)[0]
        people = [User.objects.create(username=f"bench-today-{n:02d}") for n in range(20)]
        for person in people:
            person.groups.add(group)
        duties = 1000
        per_duty = max(1, -(-count // duties))
        today = portal_today()
        now = timezone.now()
        configs = RecurringConfig.objects.bulk_create(
            [
                RecurringConfig(
                    title=f"History duty {n:04d}",
                    cron_expression="0 9 * * *",
                    timezone="UTC",
                    starts_on=today - dt.timedelta(days=per_duty),
                    assignee=people[n % len(people)],
                    enabled=False,
                    estimate_minutes=15,
                    created_at=now,
                    updated_at=now,
                )
                for n in range(duties)
            ],
            batch_size=500,
        )
        made = 0
        with transaction.atomic():
            for index, config in enumerate(configs):
                todo = min(per_duty, count - made)
                if todo <= 0:
                    break
                rows = []
                for back in range(todo):
                    day = today - dt.timedelta(days=back)
                    started = dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC) + dt.timedelta(minutes=index % 60)
                    done = back > 0
                    rows.append(
                        Task(
                            title=config.title,
                            due_date=day,
                            assignee=config.assignee,
                            source=TaskSource.RECURRING,
                            recurring_config=config,
                            window_date=day,
                            estimate_minutes=15,
                            status=TaskStatus.DONE if done else TaskStatus.TODO,
                            started_at=started if done else None,
                            completed_at=started + dt.timedelta(minutes=10 + back % 30) if done else None,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                Task.objects.bulk_create(rows, batch_size=2000)
                made += todo
        from recurring.tasks import refresh_database_statistics

        # As the nightly "refresh database statistics" entry leaves a portal that has its history.
        refresh_database_statistics()
        client = Client()
        client.force_login(people[0])
        self.stdout.write(
            f"(e) Start today and Insights over {made:,} tasks ({duties:,} duties), planner statistics refreshed:"
        )
        for path in ("/today/", "/api/v1/today/", "/insights/?days=90", "/api/v1/insights/?days=90"):
            times, cpu_times, size, queries = [], [], 0, 0
            for _ in range(7):
                with CaptureQueriesContext(connection) as captured:
                    start, cpu_start = time.perf_counter(), time.process_time()
                    response = client.get(path)
                    times.append(time.perf_counter() - start)
                    cpu_times.append(time.process_time() - cpu_start)
                if response.status_code != 200:
                    raise CommandError(f"{path} answered {response.status_code}")
                size, queries = len(response.content), len(captured.captured_queries)
            times.sort()
            cpu_times.sort()
            # SQLite runs inside this process, so the CPU time covers the database work too and
            # does not depend on what else the machine is doing.
            self.stdout.write(
                f"    {path:<28} p50 {times[3] * 1000:7.0f} ms   p95 {times[-1] * 1000:7.0f} ms   "
                f"CPU p50 {cpu_times[3] * 1000:7.0f} ms   {queries:3d} queries   {size / 1024:7.1f} KB"
            )

    def _backfill_vs_bulk_create(self, user, configs: int, days: int, *, profile: bool) -> tuple[Timing, Timing, int]:
        from django.db import transaction
        from django.utils import timezone

        from recurring import cron, services
        from recurring.models import RecurringConfig
        from workflows.models import Task, TaskSource

        now = timezone.now()
        end = now.date() - dt.timedelta(days=1)  # every window's fire time is in the past
        start = end - dt.timedelta(days=days - 1)
        rows = RecurringConfig.objects.bulk_create(
            [
                RecurringConfig(
                    title=f"Daily duty {n:05d}",
                    instructions="Check the queue and handle every new item.",
                    cron_expression="0 9 * * *",
                    timezone="UTC",
                    starts_on=start,
                    assignee=user,
                    area="Operations",
                    estimate_minutes=10,
                    requires_proof_note=True,
                    created_at=now,
                    updated_at=now,
                )
                for n in range(configs)
            ],
            batch_size=500,
        )
        windows = cron.compile_schedule("0 9 * * *", "UTC").windows(start, end)

        # (b) first, on the empty table; its rows are then removed so (a) starts from the same state.
        # Building the Task objects is timed too: the backfill has to build them as well.
        with timed() as bulk:
            tasks = [
                Task(
                    title=config.title,
                    instructions=config.instructions,
                    instructions_url=config.instructions_url,
                    due_date=day,
                    assignee_id=config.assignee_id,
                    area=config.area,
                    priority=config.priority,
                    estimate_minutes=config.estimate_minutes,
                    source=TaskSource.RECURRING,
                    recurring_config=config,
                    window_date=day,
                    requires_link=config.requires_link,
                    requires_file=config.requires_file,
                    requires_proof_note=config.requires_proof_note,
                )
                for config in rows
                for day in windows
            ]
            with transaction.atomic():
                Task.objects.bulk_create(tasks)
        del tasks
        with transaction.atomic():
            Task.objects.all()._raw_delete(Task.objects.db)

        configs_list = list(RecurringConfig.objects.filter(pk__in=[c.pk for c in rows]).order_by("title"))
        with timed(profile=profile) as backfill:
            for config in configs_list:
                services.backfill(config, start=start, end=end)
        generated = Task.objects.count()
        self._print_profile("backfill", backfill)
        # Keep these out of the reconcile measurement: it is about the schedules created below.
        RecurringConfig.objects.filter(pk__in=[c.pk for c in rows]).update(enabled=False)
        return backfill, bulk, generated

    def _reconcile(self, user, schedules: int, due: int, *, profile: bool) -> tuple[Timing, int, int]:
        """``schedules`` enabled daily configs; ``due`` of them fired at 00:00 today (their next
        fire time has passed), the others fire tomorrow."""
        from django.utils import timezone

        from recurring import services
        from recurring.models import RecurringConfig
        from workflows.models import Task

        now = timezone.now()
        today = now.date()
        midnight = dt.datetime.combine(today, dt.time.min, tzinfo=dt.UTC)
        created = midnight - dt.timedelta(hours=1)  # creation counts as a resume: today's window is due
        RecurringConfig.objects.bulk_create(
            [
                RecurringConfig(
                    title=f"Schedule {n:05d}",
                    cron_expression="0 0 * * *",
                    timezone="UTC",
                    starts_on=today,
                    assignee=user,
                    created_at=created,
                    updated_at=created,
                    next_fire_at=midnight if n < due else midnight + dt.timedelta(days=1),
                )
                for n in range(schedules)
            ],
            batch_size=500,
        )
        before = Task.objects.count()
        with timed(profile=profile) as reconcile:
            results = services.reconcile(at=now)
        self._print_profile("reconcile", reconcile)
        picked = sum(1 for result in results if result.generated)
        return reconcile, picked, Task.objects.count() - before

    def _print_profile(self, what: str, timing: Timing) -> None:
        if timing.profile is None:
            return
        out = io.StringIO()
        stats = pstats.Stats(timing.profile, stream=out)
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(15)
        self.stdout.write(f"Where the {what} spends its time:")
        self.stdout.write(out.getvalue())


@dataclass
class Timing:
    """Wall-clock and CPU seconds of one measured step (and its profile, when asked for)."""

    wall: float = 0.0
    cpu: float = 0.0
    profile: cProfile.Profile | None = None

    def __str__(self) -> str:
        return f"{self.wall:.3f} s (CPU {self.cpu:.3f} s)"


@contextmanager
def timed(*, profile: bool = False) -> Iterator[Timing]:
    timing = Timing(profile=cProfile.Profile() if profile else None)
    wall, cpu = time.perf_counter(), time.process_time()
    if timing.profile:
        timing.profile.enable()
    try:
        yield timing
    finally:
        if timing.profile:
            timing.profile.disable()
        timing.wall, timing.cpu = time.perf_counter() - wall, time.process_time() - cpu
