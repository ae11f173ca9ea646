"""Proof requirements and run links (``docs/task-states.md``) and private proof files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction

from tests.conftest import refused
from tests.factories import TaskFactory, launch_result, make_template, spec, task_of, upload
from workflows.models import CommentKind, Proof, ProofKind, Task, TaskStatus, add_proof

pytestmark = pytest.mark.django_db


@pytest.fixture
def social_run():
    """A run whose 'post' task needs a link, a file, a proof note and two run links."""
    template = make_template(
        spec(
            "post",
            title="Publish the LinkedIn post",
            requires_link="LinkedIn post URL",
            requires_file=True,
            requires_proof_note=True,
            requires_run_links=["Mailchimp newsletter", "LinkedIn"],
        ),
        spec("links-only", requires_run_links=["LinkedIn"]),
        run_links=("Mailchimp newsletter", "LinkedIn", "Sponsorship document"),
    )
    return launch_result(template).run


def test_complete_is_refused_naming_each_missing_item(social_run):
    post = task_of(social_run, "post")
    error = refused(post.complete, "missing_evidence")
    assert error.extra["missing"] == [
        "LinkedIn post URL",
        "file",
        "proof note",
        "run link 'LinkedIn'",
        "run link 'Mailchimp newsletter'",
    ]
    for item in error.extra["missing"]:
        assert item in error.detail
    assert Task.objects.get(pk=post.pk).status == TaskStatus.TODO


def test_adding_each_proof_and_filling_the_run_links_lets_it_complete(social_run, operator):
    post = task_of(social_run, "post")
    add_proof(post, by=operator, kind="link", url="https://www.linkedin.com/posts/123")
    assert "LinkedIn post URL" not in post.missing_requirements()
    add_proof(post, by=operator, kind="file", file=upload())
    assert "file" not in post.missing_requirements()
    add_proof(post, by=operator, kind="note", note="Posted at 09:00, 40 likes by noon")
    social_run.fill_link(name="LinkedIn", url="https://www.linkedin.com/company/acme", by=operator)
    error = refused(post.complete, "missing_evidence")
    assert error.extra["missing"] == ["run link 'Mailchimp newsletter'"]
    social_run.fill_link(name="Mailchimp newsletter", url="https://mailchi.mp/acme/feb", by=operator)
    post.complete(by=operator)
    assert Task.objects.get(pk=post.pk).status == TaskStatus.DONE


def test_only_run_links_missing_says_the_run_link_is_not_filled(social_run):
    error = refused(task_of(social_run, "links-only").complete, "missing_evidence")
    assert error.detail == "Required run link 'LinkedIn' is not filled."
    assert error.extra["missing"] == ["run link 'LinkedIn'"]


def test_a_filled_run_link_is_visible_on_every_task_of_the_run(social_run):
    social_run.fill_link(name="LinkedIn", url="https://www.linkedin.com/company/acme")
    for ref in ("post", "links-only"):
        task = task_of(social_run, ref)
        assert "run link 'LinkedIn'" not in task.missing_requirements()
        assert {link.name: link.url for link in task.run.links.all()}["LinkedIn"].endswith("/acme")


def test_filling_an_unknown_or_malformed_run_link_is_refused(social_run):
    error = refused(lambda: social_run.fill_link(name="Twitter", url="https://x.com/acme"), "unknown_run_link")
    assert "'LinkedIn'" in error.detail
    refused(lambda: social_run.fill_link(name="LinkedIn", url="not a url"), "validation_error")
    refused(lambda: social_run.fill_link(name="LinkedIn", url=""), "validation_error")
    assert not social_run.links.exclude(url="").exists()


@pytest.mark.parametrize(
    ("requirement", "proof"),
    [
        ({"requires_link": "LinkedIn post URL"}, {"kind": "link", "url": "https://linkedin.com/p/1"}),
        ({"requires_file": True}, {"kind": "file"}),
        ({"requires_proof_note": True}, {"kind": "note", "note": "Checked the totals"}),
    ],
)
def test_each_kind_of_requirement_is_met_by_its_proof(requirement, proof):
    task = TaskFactory(**requirement)
    refused(task.complete, "missing_evidence")
    if proof["kind"] == "file":
        proof = {**proof, "file": upload()}
    add_proof(task, **proof)
    task.complete()
    assert Task.objects.get(pk=task.pk).status == TaskStatus.DONE


@pytest.mark.parametrize(
    ("label", "met"),
    [
        ("LinkedIn post URL", True),
        ("  linkedin POST url ", True),
        ("Newsletter link", False),
        ("LinkedIn post URLs", False),
    ],
)
def test_a_link_requirement_is_met_only_by_a_link_with_its_label(label, met):
    task = TaskFactory(requires_link="LinkedIn post URL")
    add_proof(task, kind="link", label=label, url="https://linkedin.com/p/1")
    assert (task.missing_requirements() == []) is met
    assert Task.objects.with_flags().get(pk=task.pk).evidence_missing is (not met)


def test_sql_label_match_treats_like_wildcards_literally():
    task = TaskFactory(requires_link="Report_100%")
    add_proof(task, kind="link", label="ReportX100abc", url="https://example.com/r")
    assert task.missing_requirements() == ["Report_100%"]
    assert Task.objects.with_flags().get(pk=task.pk).evidence_missing is True


def test_a_link_proof_without_label_takes_the_required_label():
    task = TaskFactory(requires_link="Newsletter link")
    proof = add_proof(task, kind="link", url="https://mailchi.mp/acme/feb")
    assert proof.label == "Newsletter link"


#: A task with its proofs loaded as a prefetched relation, or as the plain lists of a listing
#: (Home's rows).
LOADINGS = {
    "prefetched": lambda: ["proofs"],
    "listed": lambda: Task.objects.listing_prefetches(),
}


@pytest.mark.parametrize("loading", LOADINGS)
def test_a_proof_added_through_another_copy_is_seen_by_a_task_with_loaded_proofs(loading):
    task = TaskFactory(requires_proof_note=True)
    loaded = Task.objects.prefetch_related(*LOADINGS[loading]()).get(pk=task.pk)
    assert loaded.missing_requirements() == ["proof note"]
    add_proof(Task.objects.get(pk=task.pk), kind="note", note="Done")
    loaded.complete()
    assert Task.objects.get(pk=task.pk).status == TaskStatus.DONE


@pytest.mark.parametrize("loading", LOADINGS)
def test_refreshing_a_task_drops_its_loaded_proofs(loading):
    task = TaskFactory(requires_proof_note=True)
    loaded = Task.objects.prefetch_related(*LOADINGS[loading]()).get(pk=task.pk)
    assert loaded.missing_requirements() == ["proof note"]
    add_proof(Task.objects.get(pk=task.pk), kind="note", note="Done")
    loaded.refresh_from_db()
    assert loaded.missing_requirements() == []


@pytest.mark.parametrize("loading", LOADINGS)
def test_adding_proof_to_the_same_instance_refreshes_its_loaded_proofs(loading):
    task = Task.objects.prefetch_related(*LOADINGS[loading]()).get(pk=TaskFactory(requires_proof_note=True).pk)
    assert task.missing_requirements() == ["proof note"]
    add_proof(task, kind="note", note="Done")
    assert task.missing_requirements() == []


def test_each_proof_writes_a_history_entry(operator):
    task = TaskFactory()
    proof = add_proof(task, by=operator, kind="link", label="Post", url="https://linkedin.com/p/1")
    entry = task.history.get()
    assert (entry.kind, entry.author, entry.data) == (CommentKind.PROOF, operator, {"proof_id": str(proof.pk)})
    assert "Post" in entry.body


@pytest.mark.parametrize(
    ("proof", "missing"),
    [
        ({"kind": "link", "url": ""}, ["url"]),
        ({"kind": "note", "note": "  "}, ["note"]),
        ({"kind": "file"}, ["file"]),
    ],
)
def test_a_proof_without_its_content_is_refused(proof, missing):
    task = TaskFactory()
    error = refused(lambda: add_proof(task, **proof), "validation_error")
    assert error.extra["missing"] == missing
    assert not Proof.objects.exists()


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://example.com/file", "example.com"])
def test_a_link_proof_must_be_an_http_url(url):
    refused(lambda: add_proof(TaskFactory(), kind="link", url=url), "validation_error")
    assert not Proof.objects.exists()


def test_an_unknown_proof_kind_is_refused():
    error = refused(lambda: add_proof(TaskFactory(), kind="photo", note="x"), "validation_error")
    assert "link, file, note" in error.detail


def test_an_archived_task_takes_no_proof():
    task = TaskFactory()
    task.archive()
    refused(lambda: add_proof(task, kind="note", note="late"), "invalid_transition")


def test_database_refuses_proofs_without_content():
    task = TaskFactory()
    for fields in ({"kind": "link", "url": ""}, {"kind": "note", "note": ""}, {"kind": "file"}, {"kind": "x"}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Proof.objects.create(task=task, **fields)


# ---- files ------------------------------------------------------------------------------------------


def stored_files(root) -> list[Path]:
    return [p for p in Path(root).rglob("*") if p.is_file()]


def test_a_file_proof_is_stored_privately_with_its_sha256(settings, operator):
    task = TaskFactory()
    content = b"%PDF-1.4 tax report for January"
    proof = add_proof(task, by=operator, kind="file", file=upload("tax report.pdf", content), note="January")
    proof = Proof.objects.get(pk=proof.pk)
    assert proof.sha256 == hashlib.sha256(content).hexdigest()
    assert (proof.file_name, proof.file_size, proof.content_type) == ("tax report.pdf", len(content), "application/pdf")
    path = Path(proof.file.path)
    assert path.is_relative_to(Path(settings.PROOF_STORAGE_DIR))
    assert path.read_bytes() == content
    assert str(task.pk) in proof.file.name
    with pytest.raises(ValueError, match="no public URL"):
        proof.file.url  # noqa: B018


def test_a_file_over_the_size_limit_is_refused_and_nothing_is_stored(settings):
    settings.PORTAL_PROOF_MAX_BYTES = 10
    task = TaskFactory()
    error = refused(lambda: add_proof(task, kind="file", file=upload(content=b"x" * 11)), "file_too_large")
    assert error.extra["limit"] == 10
    assert "10" in error.detail
    assert not Proof.objects.exists()
    assert stored_files(settings.PROOF_STORAGE_DIR) == []
    add_proof(task, kind="file", file=upload(content=b"%PDF-1.4 x"))  # exactly at the limit
    assert Proof.objects.count() == 1


def test_the_size_limit_applies_to_the_bytes_not_the_declared_size(settings):
    settings.PORTAL_PROOF_MAX_BYTES = 10
    file = upload(content=b"x" * 50)
    file.size = 5  # what a lying client might declare
    refused(lambda: add_proof(TaskFactory(), kind="file", file=file), "file_too_large")
    assert not Proof.objects.exists()


def test_an_empty_file_is_refused():
    refused(lambda: add_proof(TaskFactory(), kind="file", file=upload(content=b"")), "validation_error")


@pytest.mark.parametrize("content_type", ["application/x-msdownload", "text/html", ""])
def test_a_file_type_outside_the_allow_list_is_refused(content_type, settings):
    file = upload("evil.exe", b"MZ...", content_type)
    error = refused(lambda: add_proof(TaskFactory(), kind="file", file=file), "file_type_not_allowed")
    assert "application/pdf" in error.extra["allowed"]
    assert stored_files(settings.PROOF_STORAGE_DIR) == []


def test_content_type_parameters_and_case_do_not_matter():
    proof = add_proof(TaskFactory(), kind="file", file=upload("notes.txt", b"hello", "Text/Plain; charset=utf-8"))
    assert proof.content_type == "text/plain"


def test_the_allow_list_is_a_setting(settings):
    settings.PORTAL_PROOF_CONTENT_TYPES = ["image/png"]
    refused(lambda: add_proof(TaskFactory(), kind="file", file=upload()), "file_type_not_allowed")
    proof = add_proof(TaskFactory(), kind="file", file=upload("shot.png", b"\x89PNG", "image/png"))
    assert proof.kind == ProofKind.FILE


def test_a_failed_save_leaves_no_orphan_file(settings, monkeypatch):
    def broken_save(self, *args, **kwargs):
        raise IntegrityError("disk full of rows")

    monkeypatch.setattr(Proof, "save", broken_save)
    with pytest.raises(IntegrityError):
        add_proof(TaskFactory(), kind="file", file=upload())
    assert stored_files(settings.PROOF_STORAGE_DIR) == []


def test_a_file_name_cannot_escape_the_proof_folder(settings):
    proof = add_proof(TaskFactory(), kind="file", file=upload("../../etc/passwd.txt", b"root", "text/plain"))
    assert Path(proof.file.path).resolve().is_relative_to(Path(settings.PROOF_STORAGE_DIR).resolve())
    assert proof.file_name == "passwd.txt"
