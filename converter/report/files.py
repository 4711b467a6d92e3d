"""The report files of a run folder, written the same way by every command that writes one."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from . import Report

REPORT_FILES = ("report.json", "report.md", "report.html")


def write_report(folder: Path, report: Report) -> None:
    """report.json, report.md and report.html into `folder` (the caller's atomic folder: call it
    after the last figure, so the files hold what --json prints)."""
    from .render import to_html, to_markdown

    (folder / "report.json").write_text(report.to_json())
    (folder / "report.md").write_text(to_markdown(report))
    (folder / "report.html").write_text(to_html(report, folder))


def write_manifest(folder: Path) -> None:
    """manifest.json: the sha256 of every file in `folder` (recursively), so a build pipeline can
    tell that an artifact is the one this run made. Written last: it cannot list itself."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    manifest = {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
