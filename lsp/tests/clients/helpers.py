"""Helpers shared by the pytest-lsp suite: the flowc binary, position conversion in
the encoding the server negotiated, applying edits, and the diagnostics `flowc check
--format json` gives for a file, converted to what the server must publish.

The tests talk to `flowc lsp` only through its standard input and output; every
expected diagnostic comes from running the same binary's `flowc check`, never from a
hard-coded table, so the suite checks that the two agree.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lsprotocol import types

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
FIXTURES = HERE / "fixtures"
EXAMPLES = REPO / "examples"

#: The recorded client capabilities the suite runs under (names as pytest-lsp 1.0
#: knows them: each picks the latest recorded version of that client).
CLIENTS = ["visual-studio-code", "neovim", "emacs"]

#: How long to wait for the server to publish something before failing. It bounds
#: a hang, it does not measure speed: the server answers in milliseconds.
PATIENCE = 20.0


def flowc() -> str:
    """The binary under test: `FLOWC_BIN`, else the workspace's debug build."""
    path = os.environ.get("FLOWC_BIN") or str(REPO / "target" / "debug" / "flowc")
    return str(Path(path).resolve())


# ------------------------------------------------------------------ positions


def _units(text: str, encoding: str) -> int:
    """The length of `text` in the code units of a position encoding."""
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    if encoding == "utf-32":
        return len(text)
    return sum(2 if ord(char) > 0xFFFF else 1 for char in text)


def position_at(text: str, index: int, encoding: str) -> types.Position:
    """The position of the character index `index` of `text`."""
    before = text[:index]
    line = before.count("\n")
    start = before.rfind("\n") + 1
    return types.Position(line=line, character=_units(before[start:], encoding))


def position_at_byte(text: str, byte: int, encoding: str) -> types.Position:
    """The position of a UTF-8 byte offset of `text` (as `flowc check` gives)."""
    index = len(text.encode("utf-8")[:byte].decode("utf-8"))
    return position_at(text, index, encoding)


def index_of(text: str, position: types.Position, encoding: str) -> int:
    """The character index of an LSP position in `text` (clamped to its line)."""
    lines = text.split("\n")
    if position.line >= len(lines):
        return len(text)
    start = sum(len(line) + 1 for line in lines[: position.line])
    line = lines[position.line]
    units = 0
    for offset, char in enumerate(line):
        if units >= position.character:
            return start + offset
        units += _units(char, encoding)
    return start + len(line)


def find(text: str, needle: str, nth: int = 0) -> int:
    """The character index of the `nth` occurrence of `needle`; fails the test when
    there is none, so a fixture edit cannot silently move a cursor."""
    at = -1
    for _ in range(nth + 1):
        at = text.find(needle, at + 1)
        assert at >= 0, f"{needle!r} (occurrence {nth}) is not in the text"
    return at


def apply_edits(text: str, edits: list[types.TextEdit], encoding: str) -> str:
    """`text` with `edits` applied (they do not overlap, as LSP requires)."""
    spans = [
        (
            index_of(text, edit.range.start, encoding),
            index_of(text, edit.range.end, encoding),
            edit.new_text,
        )
        for edit in edits
    ]
    for start, end, new_text in sorted(spans, key=lambda span: span[0], reverse=True):
        text = text[:start] + new_text + text[end:]
    return text


def workspace_edits(
    edit: types.WorkspaceEdit | None,
) -> dict[str, list[types.TextEdit]]:
    """The text edits of a workspace edit by URI, whichever form the server used."""
    by_uri: dict[str, list[types.TextEdit]] = {}
    if edit is None:
        return by_uri
    for uri, edits in (edit.changes or {}).items():
        by_uri.setdefault(uri, []).extend(edits)
    for change in edit.document_changes or []:
        assert isinstance(change, types.TextDocumentEdit), (
            f"only text edits are expected, got {change!r}"
        )
        by_uri.setdefault(change.text_document.uri, []).extend(
            e for e in change.edits if isinstance(e, types.TextEdit)
        )
    return by_uri


# ------------------------------------------------------------------ diagnostics


@dataclass(frozen=True, order=True)
class Diag:
    """What the suite compares of a diagnostic: everything `flowc check` says of it
    that LSP carries."""

    start: tuple[int, int]
    end: tuple[int, int]
    severity: int
    code: str
    message: str


SEVERITIES = {"error": types.DiagnosticSeverity.Error, "warning": types.DiagnosticSeverity.Warning}


def from_lsp(diagnostic: types.Diagnostic) -> Diag:
    return Diag(
        start=(diagnostic.range.start.line, diagnostic.range.start.character),
        end=(diagnostic.range.end.line, diagnostic.range.end.character),
        severity=int(diagnostic.severity) if diagnostic.severity is not None else -1,
        code=str(diagnostic.code),
        message=diagnostic.message,
    )


def check_json(path: Path) -> dict:
    """`flowc check --format json PATH` as parsed JSON (its exit status is 0 or 1)."""
    result = subprocess.run(
        [flowc(), "check", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        cwd=path.parent,
        check=False,
    )
    assert result.returncode in (0, 1), (
        f"flowc check exited {result.returncode}: {result.stderr}"
    )
    return json.loads(result.stdout)


def same_file(a: str, b: Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def expected_diagnostics(root: Path, file: Path, encoding: str) -> list[Diag]:
    """The diagnostics `flowc check ROOT` reports for `file` (ROOT or a file it
    imports), with positions converted from UTF-8 byte offsets to `encoding`."""
    report = check_json(root)
    text = file.read_text(encoding="utf-8")
    found = []
    for diagnostic in report["diagnostics"]:
        if not same_file(diagnostic["file"], file):
            continue
        start = position_at_byte(text, diagnostic["start"]["byte"], encoding)
        end = position_at_byte(text, diagnostic["end"]["byte"], encoding)
        assert start.line + 1 == diagnostic["start"]["line"], "line of check's start"
        assert end.line + 1 == diagnostic["end"]["line"], "line of check's end"
        found.append(
            Diag(
                start=(start.line, start.character),
                end=(end.line, end.character),
                severity=int(SEVERITIES[diagnostic["severity"]]),
                code=diagnostic["code"],
                message=diagnostic["message"],
            )
        )
    return sorted(found)


def fmt(text: str) -> str:
    """`flowc fmt -`: the canonical layout of `text`."""
    result = subprocess.run(
        [flowc(), "fmt", "-"], input=text, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"flowc fmt - exited {result.returncode}: {result.stderr}"
    return result.stdout


async def eventually(condition, what: str):
    """Waits until `condition()` holds, failing with `what` after PATIENCE seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
