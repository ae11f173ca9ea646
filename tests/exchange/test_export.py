"""Export, validation and import of all runtime data (docs/export.md): a full portal goes out as
JSONL, checks clean, comes back into an empty database and goes out again byte for byte; no
secret ever leaves; every broken rule is reported with file, line and field; a refused or failed
import changes nothing."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django_celery_beat.models import PeriodicTask

from notifications.models import Notification, NotificationType
from portal.exchange.export import write_export
from portal.exchange.load import ImportRefused, import_export, portal_data_present
from portal.exchange.schema import ENTITIES, MANIFEST
from portal.exchange.validate import validate_export
from portal.models import ExportCheck
from recurring.models import GenerationRun, GenerationStatus, RecurringConfig
from tests.exchange.dataset import FILE_CONTENT, build_portal, wipe_portal
from workflows.models import Proof, Run, RunLink, Task, TaskDependency, TaskStatus

pytestmark = pytest.mark.django_db

ENTITY_FILES = [entity.file_name for entity in ENTITIES]


def read_lines(folder: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in (folder / name).read_text(encoding="utf-8").splitlines()]


def write_lines(folder: Path, name: str, records: list[dict], *, reseal: bool = True) -> None:
    """Replace a file's records (as an editor of the copy would) and, unless told otherwise,
    record its new hash and count in the manifest so only the planted problem remains."""
    text = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)
    (folder / name).write_text(text, encoding="utf-8")
    if reseal:
        manifest = json.loads((folder / MANIFEST).read_text())
        manifest["files"][name]["sha256"] = hashlib.sha256(text.encode()).hexdigest()
        manifest["counts"][name.removesuffix(".jsonl")] = len(records)
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


def problems_of(folder: Path) -> list[str]:
    return [str(problem) for problem in validate_export(folder).problems]


def line_of(records: list[dict], **match) -> int:
    return next(i for i, r in enumerate(records, start=1) if all(r[k] == v for k, v in match.items()))


@pytest.fixture
def exported(tmp_path) -> Path:
    build_portal()
    folder = tmp_path / "export"
    write_export(folder)
    return folder


# ---- the round trip -------------------------------------------------------------------------


def test_a_full_portal_exports_validates_imports_into_an_empty_database_and_exports_identically(tmp_path):
    build_portal()
    first = tmp_path / "first"
    result = write_export(first)
    assert all(result.counts[name] > 0 for name in result.counts), result.counts
    assert validate_export(first).ok, problems_of(first)
    before = {name: (first / name).read_bytes() for name in ENTITY_FILES}
    statuses = set(Task.objects.values_list("status", flat=True))
    assert {TaskStatus.DONE, TaskStatus.WAITING, TaskStatus.SKIPPED, TaskStatus.TODO} <= statuses
    assert set(Notification.objects.values_list("type", flat=True)) == set(NotificationType.values)
    assert GenerationRun.objects.filter(status=GenerationStatus.FAILED).exists()

    wipe_portal()
    assert portal_data_present() == {}
    assert not PeriodicTask.objects.filter(name__startswith="recurring:").exists()
    imported = import_export(first)

    assert imported.counts == result.counts
    second = tmp_path / "second"
    write_export(second)
    for name in ENTITY_FILES:
        assert (second / name).read_bytes() == before[name], f"{name} differs after the round trip"
    # Relationships are intact, not just bytes: the waiting task keeps its follow-up, the run
    # its dependencies and links, the file proof its metadata.
    waiting = Task.objects.get(status=TaskStatus.WAITING)
    assert waiting.follow_up_at.isoformat() == "2028-01-13" and waiting.waiting_for == "Sponsor copy"
    assert TaskDependency.objects.filter(task__run__isnull=False).count() == 2
    send = Task.objects.get(template_task_ref="send")
    assert [link.name for link in send.required_run_links.all()] == ["Mailchimp newsletter"]
    assert Proof.objects.get(kind="file").sha256 == hashlib.sha256(FILE_CONTENT).hexdigest()


def test_import_recreates_celery_beat_rows_for_enabled_schedules_and_leaves_passwords_unusable(exported):
    wipe_portal()

    result = import_export(exported)

    enabled = RecurringConfig.objects.get(enabled=True)
    paused = RecurringConfig.objects.get(enabled=False)
    assert PeriodicTask.objects.get(name=f"recurring:{enabled.pk}:0").enabled
    assert not PeriodicTask.objects.get(name=f"recurring:{paused.pk}:0").enabled
    assert PeriodicTask.objects.filter(name__startswith="template:", enabled=True).exists()
    users = get_user_model().objects.all()
    assert users.count() == 3 and not any(user.has_usable_password() for user in users)
    assert any("no usable password" in line for line in result.summary())
    # New users continue after the imported ids.
    newcomer = get_user_model().objects.create(username="newcomer")
    assert newcomer.pk > max(u.pk for u in users if u.username != "newcomer")


def test_dry_run_import_loads_nothing(exported):
    wipe_portal()

    result = import_export(exported, dry_run=True)

    assert result.dry_run and result.counts["tasks"] > 0
    assert portal_data_present() == {}
    assert "nothing was changed" in result.summary()[0]


# ---- nothing secret leaves ------------------------------------------------------------------


def test_no_exported_byte_contains_a_password_hash_session_key_api_token_secret_or_file_content(tmp_path):
    secrets = build_portal()
    signed = "https://bucket.s3.amazonaws.com/report.pdf?X-Amz-Credential=AKIA%2F20280110&X-Amz-Signature=abc123def"
    blob = base64.b64encode(os.urandom(300)).decode()
    task = Task.objects.filter(status=TaskStatus.TODO).first()
    task.add_comment(by=None, body=f"See {signed} and the raw file {blob}")
    run_link = RunLink.objects.get()
    RunLink.objects.filter(pk=run_link.pk).update(url=signed)
    Notification.objects.filter(pk=Notification.objects.first().pk).update(data={"api_token": "tok-123", "n": 1})
    folder = tmp_path / "export"

    result = write_export(folder)

    everything = b"".join(path.read_bytes() for path in folder.iterdir())
    for value in [*secrets.values, settings.SECRET_KEY, signed, blob, "X-Amz-Signature", "tok-123"]:
        assert value.encode() not in everything, value
    assert FILE_CONTENT not in everything
    for marker in (b"pbkdf2_", b"md5$", b'"password', b"sessionid", b"api_token"):
        assert marker not in everything
    assert result.redacted == 4
    assert "https://bucket.s3.amazonaws.com/report.pdf" in (folder / "run_links.jsonl").read_text()
    assert validate_export(folder).ok, problems_of(folder)


@pytest.mark.parametrize(
    ("plant", "expected"),
    [
        (
            lambda r: r["data"].update(session_token="x"),
            ("data.session_token: forbidden key (contains 'token'); secrets never leave the portal"),
        ),
        (
            lambda r: r.update(body="Download https://files.example/a.pdf?Expires=1&Signature=Zm9v"),
            "body: secret-like value: signed URL (query parameter 'Signature')",
        ),
        (
            lambda r: r.update(body=base64.b64encode(bytes(range(256)) * 2).decode()),
            "body: secret-like value: long base64 payload",
        ),
        (
            lambda r: r.update(body="pbkdf2_sha256$720000$salt$Zm9vYmFyYmF6cXV4"),
            "body: secret-like value: password hash",
        ),
    ],
    ids=["secret-key", "signed-url", "base64-blob", "password-hash"],
)
def test_a_planted_secret_in_a_copy_is_reported_with_file_line_and_field(exported, plant, expected):
    comments = read_lines(exported, "comments.jsonl")
    plant(comments[2])
    write_lines(exported, "comments.jsonl", comments)

    assert problems_of(exported) == [f"comments.jsonl:3 {expected}"]


def test_a_planted_forbidden_top_level_key_is_reported(exported):
    users = read_lines(exported, "users.jsonl")
    users[0]["password"] = "md5$abc$def"
    write_lines(exported, "users.jsonl", users)

    problems = problems_of(exported)

    assert "users.jsonl:1 password: forbidden key (contains 'password'); secrets never leave the portal" in problems


# ---- every rule, with file, line and field ---------------------------------------------------


def test_a_tampered_file_is_reported_by_its_hash(exported):
    tasks = read_lines(exported, "tasks.jsonl")
    tasks[0]["title"] = "Changed by hand"
    write_lines(exported, "tasks.jsonl", tasks, reseal=False)

    problems = problems_of(exported)

    assert len(problems) == 1
    manifest_lines = (exported / MANIFEST).read_text().splitlines()
    number = next(i for i, text in enumerate(manifest_lines, 1) if '"tasks.jsonl"' in text) + 1
    assert problems[0].startswith(f"manifest.json:{number} files.tasks.jsonl.sha256: tasks.jsonl does not match")


def test_a_broken_reference_is_reported(exported):
    tasks = read_lines(exported, "tasks.jsonl")
    number = next(i for i, t in enumerate(tasks, 1) if t["recurring_config_id"])
    missing = "8f0e4b4c-0000-4000-8000-000000000000"
    tasks[number - 1]["recurring_config_id"] = missing
    write_lines(exported, "tasks.jsonl", tasks)

    assert problems_of(exported) == [
        f"tasks.jsonl:{number} recurring_config_id: references missing recurring config {missing}"
    ]


def test_a_malformed_date_and_a_datetime_without_offset_are_reported(exported):
    runs = read_lines(exported, "runs.jsonl")
    runs[0]["anchor_date"] = "16/01/2028"
    runs[0]["created_at"] = "2028-01-10T09:00:00"
    write_lines(exported, "runs.jsonl", runs)

    problems = problems_of(exported)

    assert problems == [
        "runs.jsonl:1 anchor_date: must be a date YYYY-MM-DD; got '16/01/2028'",
        "runs.jsonl:1 created_at: must be an ISO 8601 datetime with offset (e.g. 2029-01-09T09:00:00+00:00); "
        "got '2028-01-10T09:00:00'",
    ]


def test_a_done_task_missing_its_required_proof_is_reported(exported):
    proofs = read_lines(exported, "proofs.jsonl")
    tasks = read_lines(exported, "tasks.jsonl")
    receipt = next(p for p in proofs if p["kind"] == "link")
    write_lines(exported, "proofs.jsonl", [p for p in proofs if p is not receipt])
    number = line_of(tasks, id=receipt["task_id"])

    assert problems_of(exported) == [
        f"tasks.jsonl:{number} requires_link: task is done but its required Receipt is missing"
    ]


def test_duplicate_ids_unparsable_lines_missing_fields_and_unknown_values_are_reported(exported):
    runs = read_lines(exported, "runs.jsonl")
    tasks = read_lines(exported, "tasks.jsonl")
    del tasks[1]["title"]
    tasks[2]["status"] = "finished"
    tasks.append(dict(tasks[-1]))
    write_lines(exported, "tasks.jsonl", tasks)
    (exported / "runs.jsonl").write_text(json.dumps(runs[0]) + "\n{not json\n")

    problems = problems_of(exported)

    assert "tasks.jsonl:2 title: required field is missing" in problems
    assert any(p.startswith("tasks.jsonl:3 status: 'finished' is not one of todo, in_progress") for p in problems)
    assert f"tasks.jsonl:{len(tasks)} id: duplicate task (id={tasks[-1]['id']})" in problems
    assert any(p.startswith("runs.jsonl:2 -: not valid JSON") for p in problems)
    assert any(p.startswith("manifest.json:") and "counts.runs" in p for p in problems)


# ---- the commands ---------------------------------------------------------------------------


def test_export_data_creates_the_folder_and_refuses_a_non_empty_one(tmp_path):
    build_portal()
    target = tmp_path / "new" / "folder"
    out = io.StringIO()

    call_command("export_data", str(target), stdout=out)

    assert sorted(p.name for p in target.iterdir()) == sorted([*ENTITY_FILES, MANIFEST])
    assert out.getvalue().startswith("Exported ")
    with pytest.raises(CommandError, match="not an empty folder"):
        call_command("export_data", str(target), stdout=io.StringIO())


def test_validate_export_prints_one_summary_line_when_clean_and_every_problem_otherwise(exported):
    out = io.StringIO()
    call_command("validate_export", str(exported), stdout=out)
    assert out.getvalue().count("\n") == 1 and "is a valid portal.export.v1 export: 3 users" in out.getvalue()
    assert ExportCheck.objects.get().ok

    runs = read_lines(exported, "runs.jsonl")
    runs[0]["anchor_date"] = "2028-13-01"
    write_lines(exported, "runs.jsonl", runs)
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 problem"):
        call_command("validate_export", str(exported), stdout=out)
    assert out.getvalue().splitlines() == ["runs.jsonl:1 anchor_date: must be a date YYYY-MM-DD; got '2028-13-01'"]
    assert not ExportCheck.objects.first().ok


def test_import_into_a_portal_holding_data_changes_nothing_and_says_why(exported):
    before = {entity.name: entity.model._default_manager.count() for entity in ENTITIES}
    beat_rows = PeriodicTask.objects.count()

    with pytest.raises(CommandError, match=r"already holds data \(3 users, 2 recurring configs"):
        call_command("import_data", str(exported), stdout=io.StringIO())

    assert {entity.name: entity.model._default_manager.count() for entity in ENTITIES} == before
    assert PeriodicTask.objects.count() == beat_rows


def test_import_of_an_invalid_export_lists_the_problems_and_loads_nothing(exported):
    wipe_portal()
    runs = read_lines(exported, "runs.jsonl")
    runs[0]["anchor_date"] = "yesterday"
    write_lines(exported, "runs.jsonl", runs)
    out = io.StringIO()

    with pytest.raises(CommandError, match="not a valid export"):
        call_command("import_data", str(exported), stdout=out)

    assert "runs.jsonl:1 anchor_date" in out.getvalue()
    assert portal_data_present() == {}


def test_a_failing_import_leaves_the_database_empty(exported):
    wipe_portal()
    # Two tasks for one window of one duty: valid line by line, refused by the database.
    tasks = read_lines(exported, "tasks.jsonl")
    recurring = [t for t in tasks if t["recurring_config_id"]]
    recurring[1]["window_date"] = recurring[0]["window_date"]
    write_lines(exported, "tasks.jsonl", tasks)
    assert validate_export(exported).ok

    with pytest.raises(ImportRefused, match=r"failed at tasks\.jsonl .*Nothing was changed"):
        import_export(exported)

    assert portal_data_present() == {}
    assert not Run.objects.exists() and not PeriodicTask.objects.filter(name__startswith="template:").exists()


def test_import_data_command_reports_counts_and_unusable_passwords(exported):
    wipe_portal()
    out = io.StringIO()

    call_command("import_data", str(exported), stdout=out)

    text = out.getvalue()
    assert text.startswith("Imported ") and "celery-beat:" in text and "no usable password" in text


# ---- the admin page -------------------------------------------------------------------------


def test_admin_export_page_refuses_operators_and_anonymous_users(client, operator):
    response = client.get("/admin/export/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert client.post("/admin/export/").status_code == 302
    assert not ExportCheck.objects.exists()

    client.force_login(operator)
    assert client.get("/admin/export/").status_code == 403
    assert client.post("/admin/export/").status_code == 403
    assert not ExportCheck.objects.exists()


def test_admin_downloads_the_export_as_a_zip_and_sees_the_last_validation(client):
    build_portal()
    admin_user = get_user_model().objects.get(username="adam")
    client.force_login(admin_user)
    page = client.get("/admin/export/")
    assert page.status_code == 200 and "No export has been validated yet" in page.content.decode()
    assert "/admin/export/" in client.get("/admin/").content.decode()

    response = client.post("/admin/export/")

    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="portal-export-')
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = sorted(name.split("/", 1)[1] for name in archive.namelist())
    assert names == sorted([*ENTITY_FILES, MANIFEST])
    tasks_name = next(n for n in archive.namelist() if n.endswith("/tasks.jsonl"))
    assert len(archive.read(tasks_name).splitlines()) == Task.objects.count()
    check = ExportCheck.objects.get()
    assert check.ok and check.checked_by == admin_user
    page = client.get("/admin/export/").content.decode()
    assert "Clean" in page and "tasks.jsonl" in page


def test_admin_export_page_shows_the_latest_check_in_a_constant_number_of_queries(
    client, admin_user, django_assert_max_num_queries
):
    client.force_login(admin_user)
    report = validate_export(Path("/nonexistent/export"))
    ExportCheck.record(report, source=ExportCheck.Source.COMMAND, location="/nonexistent/export")
    with django_assert_max_num_queries(6):
        assert client.get("/admin/export/").status_code == 200
    for _ in range(20):
        ExportCheck.record(report, source=ExportCheck.Source.COMMAND, location="/nonexistent/export")
    with django_assert_max_num_queries(6):
        page = client.get("/admin/export/").content.decode()
    assert "1 problem" in page and "/nonexistent/export: not a folder" not in page
    assert "/nonexistent/export:0 -: not a folder" in page


def test_the_documented_format_lists_every_field_of_every_file_in_order():
    text = (Path(settings.BASE_DIR) / "docs" / "export.md").read_text(encoding="utf-8")
    for entity in ENTITIES:
        row = next(line for line in text.splitlines() if line.startswith(f"| `{entity.file_name}` |"))
        documented = [part.split("`")[1] for part in row.split("|")[3].split("), ")]
        assert documented == [spec.name for spec in entity.fields], entity.file_name
