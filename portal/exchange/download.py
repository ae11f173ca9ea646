"""The admin's "Export all data" page: the last validation result, and the export as a zip
download streamed chunk by chunk (the export is written to a scratch folder first, validated,
and the folder removed once the download ends). See ``docs/export.md``."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from portal.models import ExportCheck

from .export import write_export
from .validate import validate_export

READ_SIZE = 64 * 1024


class _Pipe:
    """A write-only file for ``zipfile`` whose bytes are handed on as soon as they are written."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.position = 0

    def write(self, data: bytes) -> int:
        self.buffer += data
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


def zip_stream(folder: Path, *, prefix: str, cleanup: Path | None = None) -> Iterator[bytes]:
    """The files of ``folder`` as a zip archive under ``prefix/``, a piece at a time."""
    try:
        pipe = _Pipe()
        with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.iterdir()):
                with archive.open(f"{prefix}/{path.name}", "w", force_zip64=True) as entry, open(path, "rb") as src:
                    while chunk := src.read(READ_SIZE):
                        entry.write(chunk)
                        if data := pipe.drain():
                            yield data
                if data := pipe.drain():
                    yield data
        yield pipe.drain()
    finally:
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)


def export_page(request: HttpRequest, *, site) -> HttpResponse:
    """GET: the page. POST: export, validate (the result is kept for the page), stream the zip."""
    if request.method == "POST":
        name = f"portal-export-{timezone.now():%Y%m%d-%H%M%S}"
        scratch = Path(tempfile.mkdtemp(prefix="portal-export-"))
        try:
            folder = scratch / name
            write_export(folder)
            report = validate_export(folder)
            ExportCheck.record(report, source=ExportCheck.Source.ADMIN, location=f"{name}.zip", by=request.user)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        response = StreamingHttpResponse(
            zip_stream(folder, prefix=name, cleanup=scratch), content_type="application/zip"
        )
        response["Content-Disposition"] = f'attachment; filename="{name}.zip"'
        return response
    context = {
        **site.each_context(request),
        "title": "Export all data",
        "last_check": ExportCheck.objects.select_related("checked_by").first(),
    }
    return TemplateResponse(request, "admin/portal/export.html", context)


export_page = require_http_methods(["GET", "POST"])(export_page)
