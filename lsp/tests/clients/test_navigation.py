"""Hover, go to definition, find references and rename over the `shop` fixture:
main.flow imports types.flow, so several answers cross the two files."""

from __future__ import annotations

import re

import pytest
from helpers import apply_edits, check_json, find, workspace_edits
from lsprotocol import types
from pygls.exceptions import JsonRpcException

MAIN = "shop/main.flow"
TYPES = "shop/types.flow"


def hover_text(hover: types.Hover | None) -> str:
    assert hover is not None, "no hover"
    contents = hover.contents
    if isinstance(contents, types.MarkupContent):
        return contents.value
    if isinstance(contents, (list, tuple)):
        return "\n".join(c if isinstance(c, str) else c.value for c in contents)
    return contents if isinstance(contents, str) else contents.value


def locations(result) -> list[tuple[str, types.Range]]:
    """(uri, range) of a definition or references answer in any of its shapes."""
    if result is None:
        return []
    if not isinstance(result, (list, tuple)):
        result = [result]
    found = []
    for item in result:
        if isinstance(item, types.LocationLink):
            found.append((item.target_uri, item.target_selection_range))
        else:
            found.append((item.uri, item.range))
    return found


def line_of(editor, relative: str, needle: str) -> int:
    text = editor.path(relative).read_text(encoding="utf-8")
    return text[: find(text, needle)].count("\n")


async def open_shop(editor) -> None:
    editor.open(MAIN)
    editor.open(TYPES)
    assert await editor.diagnostics(MAIN) == []


async def hover(editor, needle: str, offset: int = 0, nth: int = 0) -> str:
    return hover_text(
        await editor.client.text_document_hover_async(
            types.HoverParams(
                text_document=editor.doc(MAIN),
                position=editor.at(MAIN, needle, offset, nth),
            )
        )
    )


@pytest.mark.parametrize(
    ("needle", "offset", "nth", "shows"),
    [
        # A field of a step's response body: its type.
        ("quote.body.total", len("quote.body."), 0, "float"),
        # A step's name: its result, which carries the declared body type.
        ("quote.body.total", 0, 0, "Quote"),
        # A `let`, where it is declared and where it is used.
        ("let subtotal", len("let "), 0, "float"),
        ("shipping(subtotal)", len("shipping("), 0, "float"),
        # A parameter: its declared type.
        ("order.id", 0, 0, "Order"),
        # A `fn`: its signature and its doc comment.
        ("shipping(subtotal)", 0, 0, "Orders of 100.00 or more ship free"),
        ("shipping(subtotal)", 0, 0, "float"),
        # A type declared in the imported file: its doc comment.
        ("order: Order", len("order: "), 0, "An order as the shop posts it"),
        # A standard library function: its documentation.
        (".sum()", 1, 0, "The total of a list"),
    ],
)
async def test_hover(editor, needle, offset, nth, shows):
    await open_shop(editor)
    assert shows in await hover(editor, needle, offset, nth)


@pytest.mark.parametrize(
    ("needle", "offset", "target", "declaration"),
    [
        ("order: Order", len("order: "), TYPES, "type Order"),
        ("pricing \"/quotes\"", 0, TYPES, "connection pricing"),
        ("emit order_priced", len("emit "), TYPES, "event order_priced"),
        ("quote.body.total", 0, MAIN, "step quote"),
        ("shipping(subtotal)", len("shipping("), MAIN, "let subtotal"),
        ("shipping(subtotal)", 0, MAIN, "fn shipping"),
        ("} -> Quote", len("} -> "), TYPES, "type Quote"),
    ],
)
async def test_definition(editor, needle, offset, target, declaration):
    await open_shop(editor)
    result = await editor.client.text_document_definition_async(
        types.DefinitionParams(
            text_document=editor.doc(MAIN), position=editor.at(MAIN, needle, offset)
        )
    )
    found = locations(result)
    assert len(found) == 1, f"one definition, got {found}"
    uri, range_ = found[0]
    assert uri == editor.uri(target)
    assert range_.start.line == line_of(editor, target, declaration)


async def test_definition_of_an_import_path_is_the_file(editor):
    await open_shop(editor)
    result = await editor.client.text_document_definition_async(
        types.DefinitionParams(
            text_document=editor.doc(MAIN), position=editor.at(MAIN, "./types.flow", 2)
        )
    )
    assert [uri for uri, _ in locations(result)] == [editor.uri(TYPES)]


async def test_references_of_a_let_in_one_file(editor):
    await open_shop(editor)
    result = await editor.client.text_document_references_async(
        types.ReferenceParams(
            text_document=editor.doc(MAIN),
            position=editor.at(MAIN, "let subtotal", len("let ")),
            context=types.ReferenceContext(include_declaration=True),
        )
    )
    text = editor.text(MAIN)
    found = sorted((r.start.line, r.start.character) for _, r in locations(result))
    # The declaration, the value of the `subtotal:` field, the argument; not the
    # field name nor `fn shipping`'s parameter of the same name.
    uses = [
        find(text, "let subtotal") + len("let "),
        find(text, "subtotal: subtotal") + len("subtotal: "),
        find(text, "shipping(subtotal)") + len("shipping("),
    ]
    expected = sorted(
        (editor.position_of_index(text, at).line, editor.position_of_index(text, at).character)
        for at in uses
    )
    assert {uri for uri, _ in locations(result)} == {editor.uri(MAIN)}
    assert found == expected


async def test_references_of_a_type_cross_files(editor):
    await open_shop(editor)
    result = await editor.client.text_document_references_async(
        types.ReferenceParams(
            text_document=editor.doc(MAIN),
            position=editor.at(MAIN, "order: Order", len("order: ")),
            context=types.ReferenceContext(include_declaration=True),
        )
    )
    found = {(uri, r.start.line) for uri, r in locations(result)}
    assert (editor.uri(TYPES), line_of(editor, TYPES, "type Order")) in found
    assert (editor.uri(MAIN), line_of(editor, MAIN, "order: Order")) in found

    without = await editor.client.text_document_references_async(
        types.ReferenceParams(
            text_document=editor.doc(MAIN),
            position=editor.at(MAIN, "order: Order", len("order: ")),
            context=types.ReferenceContext(include_declaration=False),
        )
    )
    assert (editor.uri(TYPES), line_of(editor, TYPES, "type Order")) not in {
        (uri, r.start.line) for uri, r in locations(without)
    }


async def test_rename_a_type_edits_both_files(editor):
    await open_shop(editor)
    position = editor.at(MAIN, "order: Order", len("order: "))
    if get_prepare_support(editor):
        prepared = await editor.client.text_document_prepare_rename_async(
            types.PrepareRenameParams(text_document=editor.doc(MAIN), position=position)
        )
        assert prepared is not None
        range_ = prepared if isinstance(prepared, types.Range) else getattr(prepared, "range", None)
        if range_ is not None:
            assert range_.start == position

    edit = await editor.client.text_document_rename_async(
        types.RenameParams(
            text_document=editor.doc(MAIN), position=position, new_name="Purchase"
        )
    )
    if not get_document_changes(editor):
        assert edit is None or not edit.document_changes, (
            "documentChanges sent to a client that does not announce them"
        )
    edits = workspace_edits(edit)
    assert set(edits) == {editor.uri(MAIN), editor.uri(TYPES)}
    for relative in (MAIN, TYPES):
        renamed = apply_edits(editor.text(relative), edits[editor.uri(relative)], editor.encoding)
        assert not re.search(r"\bOrder\b", renamed)
        assert re.search(r"\bPurchase\b", renamed)
        assert "order: Purchase" in renamed or relative == TYPES
        editor.write(relative, renamed)
    report = check_json(editor.path(MAIN))
    assert report["valid"], report["diagnostics"]


@pytest.mark.parametrize(
    ("needle", "offset", "new_name"),
    [
        ("order: Order", len("order: "), "workflow"),  # a keyword
        ("order: Order", len("order: "), "Quote"),  # another type's name
        ("order: Order", len("order: "), "not a name"),
        ("shipping(subtotal)", 0, "kind_label"),  # another fn's name
    ],
)
async def test_rename_refuses_invalid_or_clashing_names(editor, needle, offset, new_name):
    await open_shop(editor)
    try:
        edit = await editor.client.text_document_rename_async(
            types.RenameParams(
                text_document=editor.doc(MAIN),
                position=editor.at(MAIN, needle, offset),
                new_name=new_name,
            )
        )
    except JsonRpcException:
        return
    assert not workspace_edits(edit), f"renamed to {new_name!r}"


def get_prepare_support(editor) -> bool:
    rename = editor.capabilities.text_document and editor.capabilities.text_document.rename
    return bool(rename and rename.prepare_support)


def get_document_changes(editor) -> bool:
    workspace = editor.capabilities.workspace
    return bool(workspace and workspace.workspace_edit and workspace.workspace_edit.document_changes)
