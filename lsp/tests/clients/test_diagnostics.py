"""Diagnostics: published on open and on change, equal to what `flowc check --format
json` reports for the same file (code, message, severity and range, converted to the
negotiated position encoding), cleared when the error is fixed, and published for
imported files and for the files that import an edited one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import CLIENTS, EXAMPLES, check_json, find, position_at_byte
from lsprotocol import types
from pygls.capabilities import get_capability
from pytest_lsp import client_capabilities

EXAMPLE_NAMES = sorted(path.name for path in EXAMPLES.glob("*.flow"))

#: A line written before the first `let` of a workflow: an unknown name after
#: non-ASCII text (one astral character), so the range checks the encoding too.
INJECTED = '  let injected = "naïve 😀 ${nosuch_value}"\n'


def inject_error(text: str) -> str:
    match = re.search(r"^  let ", text, flags=re.MULTILINE)
    assert match is not None, "the example has no `let` in a workflow"
    return text[: match.start()] + INJECTED + text[match.start() :]


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
async def test_example_with_an_error_shows_check_diagnostics_then_clears(editor, example):
    relative = f"examples/{example}"
    original = editor.path(relative).read_text(encoding="utf-8")
    broken = inject_error(original)
    editor.write(relative, broken)
    expected = editor.expected(relative)
    assert any(d.code.startswith("E") and d.severity == 1 for d in expected), (
        "the injected line is an error for flowc check"
    )
    injected_line = broken[: find(broken, "nosuch_value")].count("\n")
    assert any(d.start[0] == injected_line for d in expected)

    editor.open(relative, broken)
    assert await editor.diagnostics(relative) == expected

    editor.write(relative, original)
    fixed = editor.expected(relative)
    assert all(d.severity != 1 for d in fixed), "the example itself is valid"
    editor.change(relative, original)
    await editor.settled_diagnostics(relative, fixed)


async def test_an_error_after_non_ascii_text_has_its_column_in_the_negotiated_encoding(
    editor,
):
    relative = "unicode/main.flow"
    text = editor.path(relative).read_text(encoding="utf-8")
    expected = editor.expected(relative)
    line = text[: find(text, "nosuch")].count("\n")
    at_error = [d for d in expected if d.start[0] == line]
    assert at_error, "flowc check reports the unknown name"
    characters = find(text, "nosuch") - (text.rfind("\n", 0, find(text, "nosuch")) + 1)
    if editor.encoding != "utf-32":
        assert all(d.start[1] != characters for d in at_error), (
            "the fixture puts wide characters before the error"
        )

    editor.open(relative)
    assert await editor.diagnostics(relative) == expected


async def test_diagnostics_of_an_imported_file_are_published_under_its_own_uri(editor):
    types_text = editor.path("shop/types.flow").read_text(encoding="utf-8")
    broken = types_text.replace(
        "type Quote = { total: float, express: bool }",
        "type Quote = { total: float, express: bool, note: Strng }",
    )
    assert broken != types_text
    editor.write("shop/types.flow", broken)
    expected = editor.expected("shop/main.flow", "shop/types.flow")
    assert expected, "flowc check reports the unknown type in types.flow"

    editor.open("shop/main.flow")
    await editor.settled_diagnostics("shop/types.flow", expected)
    await editor.settled_diagnostics("shop/main.flow", editor.expected("shop/main.flow"))


async def test_editing_an_imported_file_republishes_the_importer(editor):
    editor.open("shop/main.flow")
    editor.open("shop/types.flow")
    assert await editor.diagnostics("shop/main.flow") == []
    original = editor.text("shop/types.flow")

    renamed = original.replace("type Quote =", "type Quota =")
    editor.write("shop/types.flow", renamed)
    expected = editor.expected("shop/main.flow")
    assert expected, "flowc check reports the use of the old name in main.flow"
    editor.change("shop/types.flow", renamed)
    await editor.settled_diagnostics("shop/main.flow", expected)

    editor.write("shop/types.flow", original)
    editor.change("shop/types.flow", original)
    await editor.settled_diagnostics("shop/main.flow", [])


async def test_the_last_of_quick_edits_wins(editor):
    relative = "shop/main.flow"
    original = editor.path(relative).read_text(encoding="utf-8")
    editor.open(relative)
    assert await editor.diagnostics(relative) == []
    # Typing `shiping` one key at a time; only the final text counts.
    word = "shipping(subtotal)"
    at = find(original, word)
    for length in range(1, len("shiping") + 1):
        editor.change(relative, original[:at] + "shiping"[:length] + original[at + 8 :])
    final = original[:at] + "shiping" + original[at + 8 :]
    assert editor.text(relative) == final
    editor.write(relative, final)
    expected = editor.expected(relative)
    assert expected
    await editor.settled_diagnostics(relative, expected)


async def test_dynamic_registrations_only_where_the_client_announced_them(editor):
    editor.open("shop/main.flow")
    await editor.diagnostics("shop/main.flow")
    for registration in editor.client.registrations:
        assert registration.method == "workspace/didChangeWatchedFiles", registration
        watched = editor.capabilities.workspace and editor.capabilities.workspace.did_change_watched_files
        assert watched and watched.dynamic_registration, (
            f"{editor.name} did not announce dynamic registration for {registration.method}"
        )


WATCHING = [
    name
    for name in CLIENTS
    if get_capability(
        client_capabilities(name), "workspace.did_change_watched_files.dynamic_registration", False
    )
]


@pytest.mark.parametrize("lsp", WATCHING, indirect=True)
async def test_a_watched_import_changed_on_disk_republishes_the_importer(editor):
    editor.open("shop/main.flow")
    assert await editor.diagnostics("shop/main.flow") == []
    assert [r.method for r in editor.client.registrations] == ["workspace/didChangeWatchedFiles"]
    original = editor.path("shop/types.flow").read_text(encoding="utf-8")
    editor.write("shop/types.flow", original.replace("type Quote =", "type Quota ="))
    expected = editor.expected("shop/main.flow")
    assert expected
    editor.client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[
                types.FileEvent(uri=editor.uri("shop/types.flow"), type=types.FileChangeType.Changed)
            ]
        )
    )
    await editor.settled_diagnostics("shop/main.flow", expected)


RELATED = [
    name
    for name in CLIENTS
    if get_capability(
        client_capabilities(name), "text_document.publish_diagnostics.related_information", False
    )
]


@pytest.mark.parametrize("lsp", RELATED, indirect=True)
async def test_secondary_labels_are_related_information_in_their_own_files(editor):
    main = editor.path("shop/main.flow").read_text(encoding="utf-8")
    twice = main + "\ntype Quote = { total: float }\n"
    editor.write("shop/main.flow", twice)
    # The second declaration (types.flow is read after main.flow) is the error; the
    # first, in main.flow, is a secondary label.
    expected = editor.expected("shop/main.flow", "shop/types.flow")
    assert [d.code for d in expected] == ["E0303"]
    report = check_json(editor.path("shop/main.flow"))
    (diagnostic,) = report["diagnostics"]
    secondary = []
    for label in diagnostic["labels"]:
        if label["primary"]:
            continue
        text = Path(label["file"]).resolve().read_text(encoding="utf-8")
        start = position_at_byte(text, label["start"]["byte"], editor.encoding)
        end = position_at_byte(text, label["end"]["byte"], editor.encoding)
        secondary.append(
            (Path(label["file"]).resolve().as_uri(), (start.line, start.character),
             (end.line, end.character), label["message"])
        )
    assert secondary, "flowc check labels the first declaration"

    editor.open("shop/main.flow", twice)
    await editor.settled_diagnostics("shop/types.flow", expected)
    (published,) = editor.client.diagnostics[editor.uri("shop/types.flow")]
    related = [
        (
            info.location.uri,
            (info.location.range.start.line, info.location.range.start.character),
            (info.location.range.end.line, info.location.range.end.character),
            info.message,
        )
        for info in published.related_information or []
    ]
    for label in secondary:
        assert label in related, f"{label} not in {related}"
