"""Evidence attached to tasks: links, notes and checked, privately stored files."""

from __future__ import annotations

import codecs
import hashlib
import os.path
import uuid

import filetype
from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.core.validators import MaxLengthValidator
from django.db import models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property

from ..errors import DomainError
from .base import (
    MAX_TEXT_LENGTH,
    CommentKind,
    ProofKind,
    User,
    _choices_check,
    _person,
    check_text_length,
)
from .tasks import Task, TaskComment


class PrivateProofStorage(FileSystemStorage):
    """Proof files live outside every served folder and are streamed only by a login-checked
    view; there is deliberately no public URL."""

    def __init__(self, **kwargs):
        super().__init__(base_url=None, **kwargs)

    # Read the setting on every use, not once at import: the field's storage is built when the
    # model class is, long before per-deployment (or per-test) settings are final.
    @property
    def base_location(self) -> str:
        return str(settings.PROOF_STORAGE_DIR)

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)

    def url(self, name):
        raise ValueError("Proof files have no public URL; use the proof download view.")


def proof_upload_to(instance: Proof, filename: str) -> str:
    return f"{instance.task_id}/{instance.id}/{filename}"


class Proof(models.Model):
    """Evidence attached to a task: a link, a stored file, or a note."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task = models.ForeignKey(Task, on_delete=models.PROTECT, related_name="proofs")
    kind = models.CharField(max_length=4, choices=ProofKind.choices)
    label = models.CharField(max_length=200, blank=True)
    url = models.URLField(max_length=2000, blank=True)
    note = models.TextField(blank=True, validators=[MaxLengthValidator(MAX_TEXT_LENGTH)])
    file = models.FileField(upload_to=proof_upload_to, storage=PrivateProofStorage, blank=True, max_length=500)
    file_name = models.CharField(max_length=255, blank=True)
    file_size = models.PositiveBigIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=150, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            _choices_check("kind", ProofKind, "proof_kind_valid"),
            models.CheckConstraint(condition=~Q(kind=ProofKind.LINK) | ~Q(url=""), name="proof_link_has_url"),
            models.CheckConstraint(condition=~Q(kind=ProofKind.NOTE) | ~Q(note=""), name="proof_note_has_text"),
            models.CheckConstraint(
                condition=~Q(kind=ProofKind.FILE) | (~Q(file="") & ~Q(sha256="")), name="proof_file_has_content"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} proof on {self.task_id}"

    @property
    def download_url(self) -> str:
        """Proof files are private: served only to signed-in members by the API's file view."""
        return reverse("api-task-proof-file", kwargs={"pk": self.task_id, "proof_id": self.pk})

    @cached_property
    def display(self) -> str:
        if self.kind == ProofKind.LINK:
            return self.label or self.url
        if self.kind == ProofKind.FILE:
            return self.file_name
        return self.note[:80]


# What the first bytes of a file can prove. Text has no magic number: text types are believed
# only when the bytes are UTF-8 without NUL. Containers hold more specific formats the sniffer
# cannot always name (an OOXML document is a zip whose telling entry may come late; a legacy
# Office file is an OLE compound file of either kind), so a declared member of the container's
# family is accepted when the bytes prove the container.
TEXT_CONTENT_TYPES = frozenset({"text/plain", "text/csv", "application/json"})
OLE_CONTAINER = "application/x-ole-storage"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
CONTAINER_MEMBERS = {
    "application/zip": frozenset(
        {
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        }
    ),
    OLE_CONTAINER: frozenset({"application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"}),
}
# File name extensions each type may carry; a type not listed here falls back to the system's
# MIME table, and a type with no known extension is not checked against the name.
CONTENT_TYPE_EXTENSIONS = {
    "application/pdf": {".pdf"},
    "image/png": {".png"},
    "image/jpeg": {".jpg", ".jpeg", ".jpe", ".jfif"},
    "image/gif": {".gif"},
    "image/webp": {".webp"},
    "text/plain": {".txt", ".text", ".log", ".md"},
    "text/csv": {".csv"},
    "application/json": {".json"},
    "application/zip": {".zip"},
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {".xlsx"},
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": {".docx"},
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": {".pptx"},
    "application/vnd.ms-excel": {".xls"},
    "application/msword": {".doc"},
    "application/vnd.ms-powerpoint": {".ppt"},
}
SNIFF_BYTES = 8192


def _extensions_for(content_type: str) -> set[str]:
    import mimetypes

    known = CONTENT_TYPE_EXTENSIONS.get(content_type)
    return set(known) if known is not None else set(mimetypes.guess_all_extensions(content_type))


def sniff_content_type(head: bytes) -> str | None:
    """The type the first bytes of a file prove (``None`` when they prove nothing)."""
    detected = filetype.guess_mime(bytes(head[:SNIFF_BYTES]))
    if detected is None and head.startswith(_OLE_MAGIC):
        return OLE_CONTAINER
    return detected


def checked_content_type(*, declared: str, file_name: str, head: bytes, is_text: bool) -> str:
    """The content type to store for an upload, or ``file_type_not_allowed`` naming the detected
    type. ``declared`` (already on the allow-list) must agree with what ``head`` (the first bytes)
    proves, and the file name's extension, if any, must fit that type. A text type is accepted
    only without a binary signature and when the whole file is UTF-8 without NUL (``is_text``)."""
    allowed = [t.lower() for t in settings.PORTAL_PROOF_CONTENT_TYPES]
    detected = sniff_content_type(head)

    def refuse(detail: str) -> DomainError:
        return DomainError(
            "file_type_not_allowed",
            detail,
            declared=declared,
            detected=detected or "unknown",
            allowed=allowed,
        )

    if declared in TEXT_CONTENT_TYPES or declared.startswith("text/"):
        if detected is not None:
            raise refuse(f"The file says it is {declared}, but its content is {detected}.")
        if not is_text:
            raise refuse(
                f"The file says it is {declared}, but its content is binary data (not UTF-8 text without NUL bytes)."
            )
    elif detected is None:
        raise refuse(f"The file says it is {declared}, but its content is not recognisable as that type (unknown).")
    elif detected != declared and declared not in CONTAINER_MEMBERS.get(detected, ()):
        raise refuse(f"The file says it is {declared}, but its content is {detected}.")
    # The bytes agree with the declared type, which may be more specific than they can prove.
    stored = declared
    extension = os.path.splitext(file_name)[1].lower()
    expected = _extensions_for(stored)
    if extension and expected and extension not in expected:
        raise refuse(
            f"The file name ends in '{extension}', but its content is {detected or stored}"
            f" (expected {', '.join(sorted(expected))})."
        )
    return stored


def add_proof(
    task: Task,
    *,
    by=None,
    kind: str,
    label: str = "",
    url: str = "",
    note: str = "",
    file=None,
) -> Proof:
    """Validate and attach one proof item, writing a history entry. Files are checked against the
    size limit and the content-type allow-list; the declared type must agree with the content's
    first bytes and with the file name (:func:`checked_content_type`), and the checked type and
    the sha256 are recorded. Text is bounded (``MAX_TEXT_LENGTH``)."""
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator

    label, url, note = (label or "").strip(), (url or "").strip(), (note or "").strip()
    if kind not in ProofKind.values:
        raise DomainError("validation_error", f"Proof kind must be one of link, file, note; got '{kind}'.")
    if task.archived_at:
        raise DomainError("invalid_transition", "Cannot add proof to an archived task.")
    check_text_length(label, "label", limit=Proof._meta.get_field("label").max_length)
    check_text_length(url, "url", limit=Proof._meta.get_field("url").max_length)
    check_text_length(note, "note")
    proof = Proof(task=task, kind=kind, label=label, created_by=_person(by))
    if kind == ProofKind.LINK:
        if not url:
            raise DomainError("validation_error", "A link proof needs a URL.", missing=["url"])
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            raise DomainError("validation_error", f"'{url}' is not a valid http(s) URL.") from None
        proof.url = url
        proof.label = label or task.requires_link
    elif kind == ProofKind.NOTE:
        if not note:
            raise DomainError("validation_error", "A note proof needs text.", missing=["note"])
        proof.note = note
    else:
        if file is None:
            raise DomainError("validation_error", "A file proof needs a file.", missing=["file"])
        limit = settings.PORTAL_PROOF_MAX_BYTES
        if file.size > limit:
            raise DomainError(
                "file_too_large",
                f"The file is {file.size:,} bytes; the limit is {limit:,} bytes.",
                limit=limit,
            )
        if file.size == 0:
            raise DomainError("validation_error", "The file is empty.")
        content_type = (getattr(file, "content_type", "") or "").split(";")[0].strip().lower()
        allowed = [t.lower() for t in settings.PORTAL_PROOF_CONTENT_TYPES]
        if content_type not in allowed:
            raise DomainError(
                "file_type_not_allowed",
                f"Files of type '{content_type or 'unknown'}' are not accepted (accepted: {', '.join(allowed)}).",
                allowed=allowed,
            )
        digest = hashlib.sha256()
        size = 0
        head = b""
        utf8 = codecs.getincrementaldecoder("utf-8")()
        is_text = True
        for chunk in file.chunks():
            digest.update(chunk)
            size += len(chunk)
            if len(head) < SNIFF_BYTES:
                head += chunk[: SNIFF_BYTES - len(head)]
            if is_text:
                try:
                    utf8.decode(chunk)
                    is_text = b"\x00" not in chunk
                except UnicodeDecodeError:
                    is_text = False
        if is_text:
            try:
                utf8.decode(b"", final=True)  # a multi-byte character cut off at the end
            except UnicodeDecodeError:
                is_text = False
        # The declared size is the client's word; the bytes we hashed are the truth.
        if size > limit:
            raise DomainError(
                "file_too_large", f"The file is {size:,} bytes; the limit is {limit:,} bytes.", limit=limit
            )
        file.seek(0)
        proof.file_name = os.path.basename(file.name or "")[:255] or "proof"
        content_type = checked_content_type(
            declared=content_type, file_name=proof.file_name, head=head, is_text=is_text
        )
        proof.file_size = size
        proof.content_type = content_type
        proof.sha256 = digest.hexdigest()
        proof.note = note
        proof.file.save(proof.file_name, file, save=False)
    try:
        with transaction.atomic():
            proof.save()
            TaskComment.objects.create(
                task=task,
                kind=CommentKind.PROOF,
                author=_person(by),
                body=f"Added {proof.get_kind_display().lower()} proof: {proof.display}",
                data={"proof_id": str(proof.pk)},
            )
    except Exception:
        if proof.file:
            proof.file.storage.delete(proof.file.name)
        raise
    # A caller holding this task with prefetched proofs must see the new one (e.g. complete()).
    task.forget_loaded_related("proofs")
    return proof
