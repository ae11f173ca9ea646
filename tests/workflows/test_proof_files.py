"""Proof files: the bytes decide. A file whose content disagrees with its declared type or its
name is refused naming the detected type, and nothing is stored."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from tests.conftest import refused
from tests.factories import (
    TaskFactory,
    upload,
)
from workflows.models import (
    Proof,
    add_proof,
)

pytestmark = pytest.mark.django_db

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


def stored_files(root) -> list[Path]:
    return [p for p in Path(root).rglob("*") if p.is_file()]


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
