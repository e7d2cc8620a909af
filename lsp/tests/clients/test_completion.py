"""Completion at many positions of the `shop` fixture, each on text being typed (so
the file does not parse there): the text is changed as an editor changes it, then
completion is asked at the cursor, with `.` as the trigger character after a dot."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from lsprotocol import types

MAIN = "shop/main.flow"


@dataclass
class Case:
    """Write `typed` after the first `anchor` of main.flow and complete at its end."""

    name: str
    anchor: str
    typed: str
    present: set[str]
    absent: set[str]
    #: Text after the cursor, as an editor's auto-closing brackets leave it.
    closing: str = ""


#: Most cases type a new statement after this line of the workflow.
AFTER_TOTAL = "  let total = quote.body.total + shipping(subtotal)\n"

CASES = [
    Case(
        "fields of a parameter's record type",
        AFTER_TOTAL,
        "  let probe = order.",
        {"id", "customer", "email", "lines"},
        {"workflow", "total", "express"},
    ),
    Case(
        "fields of a step's result",
        AFTER_TOTAL,
        "  let probe = quote.",
        {"body", "status", "headers"},
        {"customer", "step"},
    ),
    Case(
        "fields of a response body from its declared type",
        AFTER_TOTAL,
        "  let probe = quote.body.",
        {"total", "express"},
        {"customer", "body"},
    ),
    Case(
        "fields of a lambda parameter from the list's element type",
        AFTER_TOTAL,
        "  let probe = order.lines.map(l => l.",
        {"sku", "qty", "price"},
        {"customer", "lines"},
    ),
    Case(
        "fields of a lambda parameter, brackets auto-closed",
        AFTER_TOTAL,
        "  let probe = order.lines.map(l => l.",
        {"sku", "qty", "price"},
        {"customer", "lines"},
        closing=")",
    ),
    Case(
        "statement keywords at the start of a statement",
        AFTER_TOTAL,
        "  ",
        {"step", "let", "if", "for", "match", "return", "emit"},
        {"type", "connection"},
    ),
    Case(
        "declaration keywords at the top level",
        "import \"./types.flow\"\n",
        "\n",
        {"type", "workflow", "fn", "connection", "event", "import"},
        {"step", "return"},
    ),
    Case(
        "names in scope, fns and the standard library",
        AFTER_TOTAL,
        "  let probe = ",
        {"order", "subtotal", "quote", "total", "len", "round", "shipping"},
        {"workflow", "connection"},
    ),
    Case(
        "a standard library function by its first letters",
        AFTER_TOTAL,
        "  let probe = ro",
        {"round"},
        set(),
    ),
    Case(
        "connections after an http method",
        AFTER_TOTAL,
        "  step probe = http GET ",
        {"pricing"},
        {"order_priced", "Quote"},
    ),
    Case(
        "what a step can be after `step x =`",
        AFTER_TOTAL,
        "  step probe = ",
        {"http", "call", "await", "wait"},
        {"type"},
    ),
    Case(
        "events after emit",
        AFTER_TOTAL,
        "  emit ",
        {"order_priced"},
        {"pricing", "Quote"},
    ),
    Case(
        "secret names used in the project after `secrets.`",
        AFTER_TOTAL,
        "  step probe = http GET \"https://example.com\" { headers: { \"X-Key\": secrets.",
        {"pricing_token"},
        {"order", "step"},
    ),
    Case(
        "types in a type position",
        "import \"./types.flow\"\n",
        "\nfn probe(x: ",
        {"Order", "Quote", "Line", "Kind", "string", "int"},
        {"pricing", "step"},
    ),
    Case(
        "trigger kinds after `on`",
        "workflow price_order(order: Order) -> { id: string, total: float } {\n",
        "  on ",
        {"webhook", "schedule", "event", "manual"},
        {"step", "Order"},
    ),
    Case(
        "events after `on event`",
        "workflow price_order(order: Order) -> { id: string, total: float } {\n",
        "  on event ",
        {"order_priced"},
        {"pricing", "webhook"},
    ),
    Case(
        "workflows after `call`",
        AFTER_TOTAL,
        "  step probe = call ",
        {"price_order"},
        {"shipping", "Order"},
    ),
]


def labels(result) -> set[str]:
    if result is None:
        return set()
    items = result.items if isinstance(result, types.CompletionList) else result
    return {item.label for item in items}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_completion(editor, case: Case):
    original = editor.path(MAIN).read_text(encoding="utf-8")
    editor.open(MAIN)
    assert await editor.diagnostics(MAIN) == []

    at = original.find(case.anchor)
    assert at >= 0, f"{case.anchor!r} is not in main.flow"
    cursor = at + len(case.anchor) + len(case.typed)
    head, tail = original[: at + len(case.anchor)], original[at + len(case.anchor) :]
    typed = head + case.typed + case.closing + tail
    # Type the text the way an editor sends it: each key is a change, and the
    # closing brackets come with the first key.
    for length in range(1, len(case.typed) + 1):
        editor.change(MAIN, head + case.typed[:length] + case.closing + tail)
    if not case.typed:
        editor.change(MAIN, typed)
    assert editor.text(MAIN) == typed

    trigger = case.typed.endswith(".")
    context = types.CompletionContext(
        trigger_kind=types.CompletionTriggerKind.TriggerCharacter
        if trigger
        else types.CompletionTriggerKind.Invoked,
        trigger_character="." if trigger else None,
    )
    result = await editor.client.text_document_completion_async(
        types.CompletionParams(
            text_document=editor.doc(MAIN),
            position=editor.position_of_index(typed, cursor),
            context=context,
        )
    )
    found = labels(result)
    assert case.present <= found, f"missing {sorted(case.present - found)}; got {sorted(found)}"
    assert not (case.absent & found), f"should not offer {sorted(case.absent & found)}"


async def test_dot_is_a_trigger_character(editor):
    provider = editor.server.completion_provider
    assert provider is not None
    assert "." in (provider.trigger_characters or [])


async def test_stdlib_completion_carries_its_signature(editor):
    original = editor.path(MAIN).read_text(encoding="utf-8")
    editor.open(MAIN)
    typed = original.replace(AFTER_TOTAL, AFTER_TOTAL + "  let probe = rou", 1)
    editor.change(MAIN, typed)
    result = await editor.client.text_document_completion_async(
        types.CompletionParams(
            text_document=editor.doc(MAIN),
            position=editor.position_of_index(typed, typed.find("rou") + 3),
        )
    )
    items = result.items if isinstance(result, types.CompletionList) else result or []
    round_ = [item for item in items if item.label == "round"]
    assert round_, "round is offered"
    detail = round_[0].detail or ""
    assert "(" in detail and "float" in detail, f"round's detail is its signature: {detail!r}"
