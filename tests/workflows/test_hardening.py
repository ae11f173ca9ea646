"""Bad input is refused with a clear code and changes nothing: proof files whose bytes disagree
with their declared type or name, dates and numbers beyond the calendar or a column, over-long
text, status changes of archived tasks, unknown list filters, and templates without tasks. Also:
Home's automation failures are grouped in SQL, not in Python."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from portal.selectors import automation_failures, operations_home
from recurring.models import GenerationRun
from tests.api_factories import failed_generation, make_config
from tests.factories import TaskFactory
from tests.workflows.engine_factories import (
    ANCHOR,
    fast_password_hashing,  # noqa: F401  (autouse)
    launch,
    make_template,
    spec,
    task_of,
    upload,
)
from workflows.errors import DomainError
from workflows.models import (
    Proof,
    Run,
    Task,
    TaskComment,
    TaskStatus,
    TemplateTask,
    WorkflowTemplate,
    add_proof,
)
from workflows.services import create_manual_task, instantiate_run, save_template

pytestmark = pytest.mark.django_db

MAX_TEXT_LENGTH = 20_000  # instructions, descriptions, notes, reasons, comments
MAX_ESTIMATE_MINUTES = 100_000
TOO_LONG = "x" * (MAX_TEXT_LENGTH + 1)

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + b"\x00" * 32
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 56
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def ooxml(part: str, *, padding_entries: int = 0) -> bytes:
    """A minimal Office Open XML package whose telling part (``word/``, ``xl/``) comes after
    ``padding_entries`` other entries."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        for index in range(padding_entries):
            archive.writestr(f"docProps/extra{index}.xml", "<x/>" * 10)
        archive.writestr(f"{part}/document.xml", "<document/>")
    return buffer.getvalue()


def refused(call, code: str) -> DomainError:
    with pytest.raises(DomainError) as info:
        call()
    assert info.value.code == code, info.value.as_dict()
    return info.value


def stored_files(root) -> list[Path]:
    return [p for p in Path(root).rglob("*") if p.is_file()]


# ---- 1. proof files: the bytes decide -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "declared", "detected"),
    [
        ("report.pdf", PNG, "application/pdf", "image/png"),
        ("shot.png", PDF, "image/png", "application/pdf"),
        ("invoice.pdf", EXE, "application/pdf", "application/x-msdownload"),
        ("photo.jpg", PNG, "image/jpeg", "image/png"),
        ("table.xlsx", ooxml("word"), XLSX_TYPE, DOCX_TYPE),
        ("notes.txt", PNG, "text/plain", "image/png"),
        ("report.pdf", b"just some words, no PDF at all", "application/pdf", "unknown"),
    ],
)
def test_a_file_whose_bytes_disagree_with_its_declared_type_is_refused(settings, name, content, declared, detected):
    task = TaskFactory()
    error = refused(lambda: add_proof(task, kind="file", file=upload(name, content, declared)), "file_type_not_allowed")
    assert error.extra["detected"] == detected
    assert detected in error.detail
    assert not Proof.objects.exists()
    assert stored_files(settings.PROOF_STORAGE_DIR) == []


@pytest.mark.parametrize(
    ("name", "content", "declared"),
    [
        ("shot.html", PNG, "image/png"),
        ("report.exe", PDF, "application/pdf"),
        ("notes.html", b"plain words", "text/plain"),
    ],
)
def test_a_file_whose_name_disagrees_with_its_content_is_refused(name, content, declared):
    error = refused(
        lambda: add_proof(TaskFactory(), kind="file", file=upload(name, content, declared)), "file_type_not_allowed"
    )
    assert "ends in" in error.detail
    assert not Proof.objects.exists()


@pytest.mark.parametrize(
    ("name", "content", "declared"),
    [
        ("shot.png", PNG, "image/png"),
        ("photo.JPEG", JPEG, "image/jpeg"),
        ("tax.pdf", PDF, "application/pdf"),
        ("letter.docx", ooxml("word"), DOCX_TYPE),
        ("ledger.xlsx", ooxml("xl"), XLSX_TYPE),
        # The sniffer only sees the first entries; a package is still a zip, and agrees.
        ("long.docx", ooxml("word", padding_entries=8), DOCX_TYPE),
        ("members.csv", "name,city\nZoë,Köln\n".encode(), "text/csv"),
        ("export.json", b'{"ok": true}', "application/json"),
        ("no-extension", PNG, "image/png"),
    ],
)
def test_a_file_whose_bytes_agree_is_stored_with_the_checked_type(name, content, declared):
    proof = add_proof(TaskFactory(), kind="file", file=upload(name, content, f"{declared.upper()}; x=1"))
    assert Proof.objects.get(pk=proof.pk).content_type == declared


@pytest.mark.parametrize(
    "content",
    [b"caf\xe9 au lait", b"one\x00two", "Zoë".encode()[:-1]],
    ids=["latin-1", "nul-byte", "cut-multibyte-character"],
)
def test_text_types_need_utf8_without_nul(content):
    error = refused(
        lambda: add_proof(TaskFactory(), kind="file", file=upload("notes.txt", content, "text/plain")),
        "file_type_not_allowed",
    )
    assert "binary" in error.detail and error.extra["detected"] == "unknown"


def test_utf8_text_split_across_upload_chunks_is_still_text():
    content = ("é" * 40_000).encode()  # 80,000 bytes: more than one 64 KiB chunk, cut mid-character
    proof = add_proof(TaskFactory(), kind="file", file=upload("accents.txt", content, "text/plain"))
    assert proof.file_size == len(content)


def test_the_allow_list_still_decides_before_the_bytes(settings):
    settings.PORTAL_PROOF_CONTENT_TYPES = ["application/pdf"]
    error = refused(
        lambda: add_proof(TaskFactory(), kind="file", file=upload("shot.png", PNG, "image/png")),
        "file_type_not_allowed",
    )
    assert error.extra["allowed"] == ["application/pdf"]


def test_the_api_refuses_a_mislabelled_upload_naming_the_detected_type(api):
    task = TaskFactory()
    response = api.post(
        f"/api/v1/tasks/{task.pk}/proofs/",
        {"kind": "file", "file": upload("report.pdf", PNG, "application/pdf")},
        format="multipart",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "file_type_not_allowed"
    assert body["detected"] == "image/png" and "image/png" in body["detail"]


# ---- 2. dates stay on the calendar ---------------------------------------------------------------


@pytest.mark.parametrize(("anchor", "offset"), [(dt.date(1, 1, 1), -2), (dt.date(9999, 12, 31), 1)])
def test_a_run_whose_due_dates_fall_off_the_calendar_is_refused(anchor, offset):
    template = make_template(spec("edge", offset_days=offset))
    error = refused(lambda: instantiate_run(template=template, anchor_date=anchor), "validation_error")
    assert "edge" in error.detail and error.extra["field"] == "anchor_date"
    assert not Run.objects.exists()
    assert not Task.objects.exists()


def test_launching_off_the_calendar_through_the_api_is_a_400(api):
    template = make_template(spec("draft", offset_days=-3))
    response = api.post(f"/api/v1/templates/{template.pk}/launch/", {"anchor_date": "0001-01-01"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert not Run.objects.exists()


@pytest.mark.parametrize("offset", [3651, -3651, 10**12])
def test_offset_days_are_bounded_to_ten_years(offset):
    error = refused(lambda: make_template(spec("far", offset_days=offset)), "validation_error")
    assert "offset_days" in error.detail
    assert not WorkflowTemplate.objects.exists()


def test_ten_years_of_offset_is_accepted():
    template = make_template(spec("early", offset_days=-3650), spec("late", offset_days=3650))
    run = launch(template).run
    assert task_of(run, "early").due_date == ANCHOR - dt.timedelta(days=3650)


def test_the_api_bounds_offset_days_and_lead_days(api):
    response = api.post(
        "/api/v1/templates/",
        {"name": "Far", "tasks": [{"ref": "a", "title": "A", "offset_days": -4000}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error" and "offset_days" in response.json()["detail"]
    response = api.post(
        "/api/v1/templates/",
        {"name": "Far", "trigger_lead_days": 4000, "tasks": [{"ref": "a", "title": "A"}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("trigger_lead_days:")
    assert not WorkflowTemplate.objects.exists()


def test_lead_days_are_bounded_in_the_domain():
    error = refused(
        lambda: save_template(data={"name": "Far", "trigger_lead_days": 3651}, tasks=[spec("a")]), "validation_error"
    )
    assert error.extra["field"] == "trigger_lead_days"


def test_home_refuses_a_date_whose_week_ahead_leaves_the_calendar(api, operator):
    response = api.get("/api/v1/home/", {"date": "9999-12-30"})
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert response.json()["detail"].startswith("date:")
    assert api.get("/api/v1/home/", {"date": "9999-12-24"}).status_code == 200
    error = refused(lambda: operations_home(today=dt.date(9999, 12, 25), user=operator), "validation_error")
    assert "9999-12-24" in error.detail


# ---- 3. numbers and text fit their columns ---------------------------------------------------------


def test_estimate_minutes_is_bounded_through_the_api(api):
    base = {"title": "Count the stock", "due_date": "2028-02-09"}
    response = api.post("/api/v1/tasks/", {**base, "estimate_minutes": MAX_ESTIMATE_MINUTES + 1}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("estimate_minutes:")
    assert not Task.objects.exists()
    created = api.post("/api/v1/tasks/", {**base, "estimate_minutes": MAX_ESTIMATE_MINUTES}, format="json")
    assert created.status_code == 201
    patched = api.patch(f"/api/v1/tasks/{created.json()['id']}/", {"estimate_minutes": 2**31}, format="json")
    assert patched.status_code == 400 and patched.json()["detail"].startswith("estimate_minutes:")
    template = api.post(
        "/api/v1/templates/",
        {"name": "Big", "tasks": [{"ref": "a", "title": "A", "estimate_minutes": 2**31}]},
        format="json",
    )
    assert template.status_code == 400 and "estimate_minutes" in template.json()["detail"]


def test_estimate_minutes_is_bounded_in_the_domain():
    error = refused(
        lambda: create_manual_task(title="T", due_date=ANCHOR, estimate_minutes=MAX_ESTIMATE_MINUTES + 1),
        "validation_error",
    )
    assert error.extra["field"] == "estimate_minutes"
    error = refused(lambda: make_template(spec("a", estimate_minutes=2**31)), "validation_error")
    assert "estimate_minutes" in error.detail
    assert not Task.objects.exists() and not TemplateTask.objects.exists()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("comments", {"body": TOO_LONG}, "body"),
        ("complete", {"note": TOO_LONG}, "note"),
        ("skip", {"reason": TOO_LONG}, "reason"),
        ("wait", {"waiting_for": "Sam", "follow_up_at": "2028-02-10", "note": TOO_LONG}, "note"),
        ("proofs", {"kind": "note", "note": TOO_LONG}, "note"),
    ],
)
def test_over_long_text_is_refused_by_the_api_naming_the_field(api, path, body, field):
    task = TaskFactory()
    response = api.post(f"/api/v1/tasks/{task.pk}/{path}/", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert response.json()["detail"].startswith(f"{field}:")
    task.refresh_from_db()
    assert task.status == TaskStatus.TODO and not Proof.objects.exists()
    assert not TaskComment.objects.filter(task=task).exists()


def test_over_long_instructions_and_descriptions_are_refused_by_the_api(api):
    response = api.post(
        "/api/v1/tasks/", {"title": "T", "due_date": "2028-02-09", "instructions": TOO_LONG}, format="json"
    )
    assert response.status_code == 400 and response.json()["detail"].startswith("instructions:")
    response = api.post("/api/v1/templates/", {"name": "Long", "description": TOO_LONG}, format="json")
    assert response.status_code == 400 and response.json()["detail"].startswith("description:")
    response = api.post(
        "/api/v1/templates/",
        {"name": "Long", "tasks": [{"ref": "a", "title": "A", "instructions": TOO_LONG}]},
        format="json",
    )
    assert response.status_code == 400 and "instructions" in response.json()["detail"]
    assert not Task.objects.exists() and not WorkflowTemplate.objects.exists()


def test_over_long_text_is_refused_by_the_domain_naming_the_field(operator):
    task = TaskFactory()
    calls = {
        "body": lambda: task.add_comment(by=operator, body=TOO_LONG),
        "reason": lambda: task.skip(by=operator, reason=TOO_LONG),
        "note": lambda: task.mark_waiting(by=operator, waiting_for="Sam", follow_up_at=ANCHOR, note=TOO_LONG),
        "waiting_for": lambda: task.mark_waiting(by=operator, waiting_for="S" * 301, follow_up_at=ANCHOR, note="n"),
        "instructions": lambda: create_manual_task(title="T", due_date=ANCHOR, instructions=TOO_LONG),
        "description": lambda: save_template(data={"name": "Long", "description": TOO_LONG}, tasks=[spec("a")]),
    }
    for field, call in calls.items():
        assert refused(call, "validation_error").extra["field"] == field
    error = refused(lambda: add_proof(task, kind="note", note=TOO_LONG), "validation_error")
    assert error.extra["field"] == "note"
    run = launch(make_template(spec("a"))).run
    assert refused(lambda: run.cancel(reason=TOO_LONG), "validation_error").extra["field"] == "reason"
    task.refresh_from_db()
    assert task.status == TaskStatus.TODO and not Proof.objects.exists()


def test_text_at_the_limit_is_accepted(operator):
    task = TaskFactory()
    comment = task.add_comment(by=operator, body="y" * MAX_TEXT_LENGTH)
    assert len(comment.body) == MAX_TEXT_LENGTH


def test_model_forms_see_the_same_bounds():
    task = Task(title="T", due_date=ANCHOR, instructions=TOO_LONG, estimate_minutes=MAX_ESTIMATE_MINUTES + 1)
    with pytest.raises(ValidationError) as info:
        task.full_clean()
    assert {"instructions", "estimate_minutes"} <= set(info.value.message_dict)
    template_task = TemplateTask(ref="a", title="A", offset_days=-3651, template=WorkflowTemplate(name="x"))
    with pytest.raises(ValidationError) as info:
        template_task.full_clean(exclude=["template"])
    assert "offset_days" in info.value.message_dict


# ---- 5. an archived task's status is frozen --------------------------------------------------------


def _archived(status: str, **values) -> Task:
    task = TaskFactory(status=status, **values)
    task.archive()
    return task


TRANSITIONS = {
    "start": (TaskStatus.TODO, lambda t: t.start()),
    "complete": (TaskStatus.IN_PROGRESS, lambda t: t.complete()),
    "wait": (TaskStatus.TODO, lambda t: t.mark_waiting(waiting_for="Sam", follow_up_at=ANCHOR, note="asked")),
    "follow-up-sent": (TaskStatus.WAITING, lambda t: t.follow_up_sent(note="again", next_follow_up_at=ANCHOR)),
    "response-received": (TaskStatus.WAITING, lambda t: t.response_received(note="answered")),
    "skip": (TaskStatus.TODO, lambda t: t.skip(reason="not needed")),
    "reopen": (TaskStatus.DONE, lambda t: t.reopen(reason="again")),
}
WAITING_FIELDS = {"waiting_for": "Sam", "follow_up_at": ANCHOR}


def _values_for(status: str) -> dict:
    if status == TaskStatus.WAITING:
        return WAITING_FIELDS
    if status == TaskStatus.DONE:
        return {"completed_at": dt.datetime(2028, 2, 1, tzinfo=dt.UTC)}
    return {}


@pytest.mark.parametrize("action", TRANSITIONS)
def test_an_archived_task_cannot_change_status(action):
    status, call = TRANSITIONS[action]
    task = _archived(status, **_values_for(status))
    error = refused(lambda: call(task), "invalid_transition")
    assert "archived" in error.detail
    assert Task.objects.get(pk=task.pk).status == status


@pytest.mark.parametrize("action", TRANSITIONS)
def test_the_api_refuses_status_changes_of_archived_tasks(api, action):
    status, _ = TRANSITIONS[action]
    task = _archived(status, **_values_for(status))
    bodies = {
        "wait": {"waiting_for": "Sam", "follow_up_at": "2028-02-10", "note": "asked"},
        "follow-up-sent": {"note": "again", "next_follow_up_at": "2028-02-10"},
        "response-received": {"note": "answered"},
        "skip": {"reason": "not needed"},
        "reopen": {"reason": "again"},
    }
    response = api.post(f"/api/v1/tasks/{task.pk}/{action}/", bodies.get(action, {}), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_transition"
    assert "archived" in response.json()["detail"]
    assert Task.objects.get(pk=task.pk).status == status


def test_a_cascading_skip_leaves_an_archived_dependent_alone_but_reaches_past_it():
    template = make_template(spec("a"), spec("b", depends_on=["a"]), spec("c", depends_on=["b"]))
    run = launch(template).run
    task_of(run, "b").archive()
    task_of(run, "a").skip(reason="cancelled", cascade=True)
    assert task_of(run, "b").status == TaskStatus.TODO
    assert task_of(run, "c").status == TaskStatus.SKIPPED


def test_archiving_an_archived_task_again_is_still_harmless():
    task = _archived(TaskStatus.TODO)
    task.archive()
    assert Task.objects.get(pk=task.pk).archived_at is not None


# ---- 6. automation failures are grouped in SQL ------------------------------------------------------


def test_home_loads_one_row_per_failure_however_many_retries(monkeypatch):
    config = make_config()
    for _ in range(12):
        failed_generation(config, ANCHOR, failure_key="automation-failure:recurring:c:2028-02-09")
    failed_generation(config, ANCHOR - dt.timedelta(days=1))  # an older row without a key
    failed_generation(config, ANCHOR - dt.timedelta(days=1))
    loaded = []
    original = GenerationRun.from_db.__func__

    def counting_from_db(cls, *args, **kwargs):
        loaded.append(1)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(GenerationRun, "from_db", classmethod(counting_from_db))
    failures = automation_failures()
    assert sorted(f.attempts for f in failures) == [2, 12]
    assert len(loaded) == 2


def test_the_latest_attempt_represents_a_failure():
    config = make_config()
    first = failed_generation(config, ANCHOR, error="first")
    GenerationRun.objects.filter(pk=first.pk).update(started_at=dt.datetime(2028, 2, 9, 9, tzinfo=dt.UTC))
    latest = failed_generation(config, ANCHOR, error="second")
    GenerationRun.objects.filter(pk=latest.pk).update(started_at=dt.datetime(2028, 2, 9, 9, 2, tzinfo=dt.UTC))
    (failure,) = automation_failures()
    assert (failure.pk, failure.attempts, failure.error) == (latest.pk, 2, "second")


# ---- 7. unknown list filters are refused --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "query", "name"),
    [
        ("/api/v1/tasks/", {"statuss": "done"}, "statuss"),
        ("/api/v1/templates/", {"categry": "Finance"}, "categry"),
        ("/api/v1/runs/", {"stauts": "active"}, "stauts"),
        ("/api/v1/home/", {"scpoe": "mine"}, "scpoe"),
    ],
)
def test_an_unknown_query_parameter_on_a_list_is_refused_naming_it(api, path, query, name):
    response = api.get(path, query)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert response.json()["detail"].startswith(f"{name}:")


def test_pagination_and_documented_filters_are_still_accepted(api):
    TaskFactory(status=TaskStatus.TODO)
    response = api.get("/api/v1/tasks/", {"status": "todo", "page": 1, "page_size": 5, "format": "json"})
    assert response.status_code == 200 and response.json()["count"] == 1


# ---- 8. a template without tasks cannot launch -----------------------------------------------------


def test_a_template_without_tasks_cannot_launch():
    template = save_template(data={"name": "Empty"}, tasks=[])
    error = refused(lambda: instantiate_run(template=template, anchor_date=ANCHOR), "template_has_no_tasks")
    assert "Empty" in error.detail
    assert not Run.objects.exists()


def test_launching_a_template_without_tasks_through_the_api_is_a_400(api):
    template = save_template(data={"name": "Empty"}, tasks=[])
    response = api.post(f"/api/v1/templates/{template.pk}/launch/", {"anchor_date": "2028-02-09"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "template_has_no_tasks"
    assert not Run.objects.exists()
