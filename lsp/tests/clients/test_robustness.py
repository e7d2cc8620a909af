"""Any text in an editor is input: requests on documents the server never saw,
positions past the end of a line or inside a character, and every prefix of a file
as it is being typed must get an answer, and the server must stay up."""

from __future__ import annotations

from helpers import position_at
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

MAIN = "shop/main.flow"
UNICODE = "unicode/main.flow"


async def still_serving(editor) -> None:
    """The server answers a request and publishes diagnostics for a fresh open."""
    assert editor.client._server is not None and editor.client._server.returncode is None, (
        "flowc lsp exited"
    )
    editor.open(MAIN)
    assert await editor.diagnostics(MAIN) == []


async def test_requests_on_an_unknown_document_answer_nothing(editor):
    nowhere = types.TextDocumentIdentifier(uri=editor.uri("nowhere.flow"))
    at = types.Position(line=0, character=0)
    client = editor.client
    assert not await client.text_document_hover_async(
        types.HoverParams(text_document=nowhere, position=at)
    )
    completion = await client.text_document_completion_async(
        types.CompletionParams(text_document=nowhere, position=at)
    )
    assert not completion or not getattr(completion, "items", completion)
    assert not await client.text_document_definition_async(
        types.DefinitionParams(text_document=nowhere, position=at)
    )
    assert not await client.text_document_formatting_async(
        types.DocumentFormattingParams(
            text_document=nowhere, options=types.FormattingOptions(tab_size=2, insert_spaces=True)
        )
    )
    assert not await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=nowhere)
    )
    await still_serving(editor)


async def test_any_position_in_non_ascii_text_gets_an_answer(editor):
    editor.open(UNICODE)
    await editor.diagnostics(UNICODE)
    text = editor.text(UNICODE)
    lines = text.split("\n")
    positions = []
    for number, line in enumerate(lines):
        width = position_at(line, len(line), editor.encoding).character
        # Every code unit of the line, so also the middle of a UTF-8 sequence or of
        # a UTF-16 surrogate pair, and a few past its end.
        positions += [types.Position(line=number, character=c) for c in range(width + 3)]
    positions.append(types.Position(line=len(lines) + 5, character=0))
    for position in positions:
        document = editor.doc(UNICODE)
        for request in (
            lambda: editor.client.text_document_hover_async(
                types.HoverParams(text_document=document, position=position)
            ),
            lambda: editor.client.text_document_completion_async(
                types.CompletionParams(text_document=document, position=position)
            ),
            lambda: editor.client.text_document_definition_async(
                types.DefinitionParams(text_document=document, position=position)
            ),
        ):
            try:
                await request()
            except JsonRpcException as error:
                # An invalid position may be refused, but only as an invalid request.
                assert isinstance(error, JsonRpcInvalidParams), error
    await still_serving(editor)


async def test_every_prefix_of_a_file_being_typed(editor):
    original = editor.path(MAIN).read_text(encoding="utf-8")
    editor.open("shop/typing.flow", "")
    for end in range(0, len(original) + 1, 9):
        prefix = original[:end]
        editor.change("shop/typing.flow", prefix)
        cursor = position_at(prefix, len(prefix), editor.encoding)
        await editor.client.text_document_completion_async(
            types.CompletionParams(text_document=editor.doc("shop/typing.flow"), position=cursor)
        )
        await editor.client.text_document_document_symbol_async(
            types.DocumentSymbolParams(text_document=editor.doc("shop/typing.flow"))
        )
    editor.change("shop/typing.flow", original)
    await editor.settled_diagnostics("shop/typing.flow", [])
    await still_serving(editor)
