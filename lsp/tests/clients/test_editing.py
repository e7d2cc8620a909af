"""Formatting, code actions, the outline, workspace symbols, semantic tokens, folding,
signature help and inlay hints, over the `shop` fixture and the examples."""

from __future__ import annotations

import re

import pytest
from conftest import clients_with
from helpers import EXAMPLES, apply_edits, check_json, find, fmt, workspace_edits
from lsprotocol import types

MAIN = "shop/main.flow"
TYPES = "shop/types.flow"

OPTIONS = types.FormattingOptions(tab_size=2, insert_spaces=True)


def line_of(text: str, needle: str) -> int:
    return text[: find(text, needle)].count("\n")


async def formatting(editor, relative: str) -> list[types.TextEdit]:
    edits = await editor.client.text_document_formatting_async(
        types.DocumentFormattingParams(text_document=editor.doc(relative), options=OPTIONS)
    )
    return edits or []


def messy(text: str) -> str:
    """The same program with its layout spoiled: indentation doubled, spaces
    before commas and after colons, trailing spaces, blank lines stacked."""
    lines = []
    for line in text.split("\n"):
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        lines.append(" " * (indent * 2) + stripped.replace(", ", " ,  ") + ("   " if stripped else ""))
    return "\n\n".join(lines).replace("\n\n\n\n", "\n\n\n\n\n")


async def test_formatting_gives_the_canonical_text_then_nothing(editor):
    original = editor.path(MAIN).read_text(encoding="utf-8")
    spoiled = messy(original)
    canonical = fmt(spoiled)
    assert canonical != spoiled, "the spoiled text has something to format"
    editor.open(MAIN, spoiled)

    edits = await formatting(editor, MAIN)
    assert edits, "formatting a spoiled file returns edits"
    formatted = apply_edits(spoiled, edits, editor.encoding)
    assert formatted == canonical

    editor.change(MAIN, formatted)
    assert await formatting(editor, MAIN) == []


@pytest.mark.parametrize("example", sorted(path.name for path in EXAMPLES.glob("*.flow")))
async def test_formatting_an_example_equals_flowc_fmt(editor, example):
    relative = f"examples/{example}"
    text = editor.path(relative).read_text(encoding="utf-8")
    editor.open(relative)
    edits = await formatting(editor, relative)
    assert apply_edits(text, edits, editor.encoding) == fmt(text)


async def test_formatting_a_file_that_does_not_parse_changes_nothing(editor):
    original = editor.path(MAIN).read_text(encoding="utf-8")
    broken = original.replace("  step quote = http POST", "  step quote = http POST {{", 1)
    editor.open(MAIN, broken)
    assert await formatting(editor, MAIN) == []


async def actions_at(editor, relative: str, range_: types.Range, diagnostics) -> list:
    result = await editor.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=editor.doc(relative),
            range=range_,
            context=types.CodeActionContext(diagnostics=list(diagnostics)),
        )
    )
    return [action for action in result or [] if isinstance(action, types.CodeAction)]


def applied(editor, relative: str, action: types.CodeAction) -> str:
    edits = workspace_edits(action.edit)
    assert set(edits) == {editor.uri(relative)}, f"edits only {relative}: {action!r}"
    return apply_edits(editor.text(relative), edits[editor.uri(relative)], editor.encoding)


@pytest.mark.parametrize(
    ("typo", "fixed"),
    [
        ("order.custmer", "order.customer"),  # a field
        ("shiping(subtotal)", "shipping(subtotal)"),  # a fn
        ("+ shipping(subtotl)", "+ shipping(subtotal)"),  # a let
    ],
)
async def test_quickfix_for_a_misspelled_name(editor, typo, fixed):
    original = editor.path(MAIN).read_text(encoding="utf-8")
    broken = original.replace(fixed, typo, 1)
    assert broken != original
    editor.write(MAIN, broken)
    expected = editor.expected(MAIN)
    assert expected, "flowc check reports the misspelling"
    editor.open(MAIN, broken)
    await editor.settled_diagnostics(MAIN, expected)
    published = editor.client.diagnostics[editor.uri(MAIN)]

    actions = await actions_at(editor, MAIN, published[0].range, published)
    quickfixes = [a for a in actions if a.kind and str(a.kind).startswith("quickfix")]
    assert quickfixes, f"a quick fix is offered: {actions!r}"
    assert any(applied(editor, MAIN, action) == original for action in quickfixes), (
        "one quick fix restores the intended name"
    )


async def test_quickfix_adds_the_missing_match_arm(editor):
    original = editor.path(MAIN).read_text(encoding="utf-8")
    broken = re.sub(r'(?m)^ *"internal" => "staff",\n', "", original, count=1)
    assert broken != original
    editor.write(MAIN, broken)
    expected = editor.expected(MAIN)
    assert [d.code for d in expected] == ["E0417"]
    editor.open(MAIN, broken)
    await editor.settled_diagnostics(MAIN, expected)
    published = editor.client.diagnostics[editor.uri(MAIN)]

    actions = await actions_at(editor, MAIN, published[0].range, published)
    fixes = [a for a in actions if a.edit is not None and '"internal"' in str(workspace_edits(a.edit))]
    assert fixes, f"an action adds the `\"internal\"` arm: {actions!r}"
    editor.write(MAIN, applied(editor, MAIN, fixes[0]))
    report = check_json(editor.path(MAIN))
    assert report["error_count"] == 0, report["diagnostics"]


async def test_action_adds_a_timeout_to_an_await(editor):
    original = editor.path(MAIN).read_text(encoding="utf-8")
    anchor = "  let total = quote.body.total + shipping(subtotal)\n"
    waiting = original.replace(
        anchor,
        anchor + "  step priced = await event order_priced as e where e.id == order.id\n",
        1,
    )
    editor.write(MAIN, waiting)
    editor.open(MAIN, waiting)
    await editor.settled_diagnostics(MAIN, editor.expected(MAIN))
    at = editor.at(MAIN, "await event", 2)
    actions = await actions_at(editor, MAIN, types.Range(start=at, end=at), [])
    timeouts = [a for a in actions if "timeout" in a.title.lower()]
    assert timeouts, f"an action adds a timeout: {[a.title for a in actions]}"
    with_timeout = applied(editor, MAIN, timeouts[0])
    assert "(timeout:" in with_timeout
    editor.write(MAIN, with_timeout)
    assert check_json(editor.path(MAIN))["error_count"] == 0


def flatten(symbols) -> list:
    for symbol in symbols or []:
        yield symbol
        yield from flatten(getattr(symbol, "children", None))


async def test_document_symbols_outline_workflow_triggers_steps(editor):
    editor.open(MAIN)
    result = await editor.client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=editor.doc(MAIN))
    )
    assert result, "an outline"
    assert all(isinstance(s, types.DocumentSymbol) for s in result), (
        "hierarchical symbols, which every recorded client supports"
    )
    top = {symbol.name: symbol for symbol in result}
    assert {"price_order", "shipping", "kind_label"} <= set(top)
    workflow = top["price_order"]
    children = [child.name for child in flatten(workflow.children)]
    assert "quote" in children and "subtotal" in children and "total" in children
    assert any("webhook" in name for name in children), f"the trigger is a child: {children}"
    text = editor.text(MAIN)
    assert workflow.selection_range.start.line == line_of(text, "workflow price_order")
    assert workflow.range.end.line >= line_of(text, "  return {")


async def test_workspace_symbols_find_declarations(editor):
    editor.open(MAIN)
    await editor.diagnostics(MAIN)
    result = await editor.client.workspace_symbol_async(types.WorkspaceSymbolParams(query="pric"))
    names = {symbol.name for symbol in result or []}
    assert {"price_order", "pricing"} <= names, names


@pytest.mark.parametrize("lsp", clients_with("text_document.semantic_tokens"), indirect=True)
async def test_semantic_tokens(editor):
    editor.open(MAIN)
    provider = editor.server.semantic_tokens_provider
    assert provider is not None
    legend = provider.legend.token_types
    result = await editor.client.text_document_semantic_tokens_full_async(
        types.SemanticTokensParams(text_document=editor.doc(MAIN))
    )
    assert result is not None and result.data, "tokens"
    data = result.data
    assert len(data) % 5 == 0
    tokens = {}
    line = character = 0
    for at in range(0, len(data), 5):
        delta_line, delta_start, length, kind, _ = data[at : at + 5]
        line += delta_line
        character = character + delta_start if delta_line == 0 else delta_start
        tokens[(line, character)] = (length, legend[kind])
    text = editor.text(MAIN)

    def kind_at(needle: str, offset: int = 0) -> str | None:
        position = editor.at(MAIN, needle, offset)
        return tokens.get((position.line, position.character), (0, None))[1]

    assert kind_at("workflow price_order") == "keyword"
    assert kind_at("fn shipping") == "keyword"
    assert kind_at("order: Order", len("order: ")) == "type"
    assert kind_at('"/shop/orders"') == "string"
    assert kind_at(">= 100.0", len(">= ")) == "number"
    assert kind_at("shipping(subtotal)") == "function"
    assert kind_at("/// Orders") == "comment"
    assert len(tokens) > text.count("\n"), "more tokens than lines"


@pytest.mark.parametrize("lsp", clients_with("text_document.folding_range"), indirect=True)
async def test_folding_ranges(editor):
    editor.open(MAIN)
    result = await editor.client.text_document_folding_range_async(
        types.FoldingRangeParams(text_document=editor.doc(MAIN))
    )
    text = editor.text(MAIN)
    folds = {(fold.start_line, fold.end_line) for fold in result or []}
    workflow = line_of(text, "workflow price_order")
    assert any(start == workflow and end >= line_of(text, "  return {") for start, end in folds)
    step = line_of(text, "  step quote")
    assert any(start == step and end >= step + 1 for start, end in folds), folds


async def test_signature_help_inside_a_call(editor):
    editor.open(MAIN)
    provider = editor.server.signature_help_provider
    assert provider is not None and "(" in (provider.trigger_characters or [])
    result = await editor.client.text_document_signature_help_async(
        types.SignatureHelpParams(
            text_document=editor.doc(MAIN),
            position=editor.at(MAIN, "shipping(subtotal)", len("shipping(sub")),
        )
    )
    assert result is not None and result.signatures
    signature = result.signatures[result.active_signature or 0]
    assert "subtotal" in signature.label and "float" in signature.label
    active = signature.active_parameter if signature.active_parameter is not None else result.active_parameter
    assert active == 0


@pytest.mark.parametrize("lsp", clients_with("text_document.inlay_hint"), indirect=True)
async def test_inlay_hints_show_types_of_lets_and_steps(editor):
    editor.open(MAIN)
    text = editor.text(MAIN)
    result = await editor.client.text_document_inlay_hint_async(
        types.InlayHintParams(
            text_document=editor.doc(MAIN),
            range=types.Range(
                start=types.Position(line=0, character=0),
                end=editor.position_of_index(text, len(text)),
            ),
        )
    )

    def label(hint: types.InlayHint) -> str:
        if isinstance(hint.label, str):
            return hint.label
        return "".join(part.value for part in hint.label)

    hints = {(hint.position.line, hint.position.character): label(hint) for hint in result or []}
    after_subtotal = editor.at(MAIN, "let subtotal", len("let subtotal"))
    assert "float" in hints.get((after_subtotal.line, after_subtotal.character), ""), hints
    after_total = editor.at(MAIN, "let total", len("let total"))
    assert "float" in hints.get((after_total.line, after_total.character), ""), hints
