"""The `editor` fixture: `flowc lsp` started as a subprocess and initialised with the
recorded capabilities of a real client (VS Code, Neovim, Emacs), over a temporary
workspace holding copies of the fixture projects and of the examples.

Every test that takes `editor` runs once per client. A test of a feature some client
does not announce (semantic tokens in Emacs, say) narrows the clients with
`@pytest.mark.parametrize("lsp", clients_with(...), indirect=True)`.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

sys.path.insert(0, str(Path(__file__).resolve().parent))

import helpers  # noqa: E402
from helpers import CLIENTS, EXAMPLES, FIXTURES, eventually, flowc  # noqa: E402


def clients_with(capability: str) -> list[str]:
    """The clients whose recorded capabilities announce `capability` (a dotted path
    of lsprotocol attribute names, e.g. `text_document.semantic_tokens`)."""
    return [
        name
        for name in CLIENTS
        if get_capability(client_capabilities(name), capability, None) is not None
    ]


def make_client() -> LanguageClient:
    """pytest-lsp's test client, also keeping every diagnostics notification in
    order (the default handler keeps only the latest per URI), and answering
    dynamic registrations as editors do."""

    def published(client: LanguageClient, params: types.PublishDiagnosticsParams):
        client.diagnostics[params.uri] = params.diagnostics
        client.published.append(params)

    def register(client: LanguageClient, params: types.RegistrationParams):
        client.registrations.extend(params.registrations)

    def unregister(client: LanguageClient, params: types.UnregistrationParams):
        gone = {u.id for u in params.unregisterations}
        client.registrations = [r for r in client.registrations if r.id not in gone]

    client = LanguageClient(converter_factory=default_converter)
    client.published = []
    client.registrations = []
    features = dict(DEFAULT_CLIENT_FEATURES)
    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = published
    # Every recorded client accepts dynamic registrations (file watching, say).
    features[types.CLIENT_REGISTER_CAPABILITY] = register
    features[types.CLIENT_UNREGISTER_CAPABILITY] = unregister
    register_lsp_features(client, features)
    return client


class Editor:
    """One client session: the documents it has open, in the encoding negotiated
    with the server, and the requests a test makes, shaped as a real client makes
    them."""

    def __init__(
        self,
        client: LanguageClient,
        name: str,
        initialized: types.InitializeResult,
        root: Path,
    ):
        self.client = client
        self.name = name
        self.server = initialized.capabilities
        self.root = root
        self.encoding = str(self.server.position_encoding or "utf-16")
        self.texts: dict[str, str] = {}
        self.versions: dict[str, int] = {}

    @property
    def capabilities(self) -> types.ClientCapabilities:
        assert self.client.capabilities is not None
        return self.client.capabilities

    def path(self, relative: str) -> Path:
        return self.root / relative

    def uri(self, relative: str) -> str:
        return self.path(relative).as_uri()

    def text(self, relative: str) -> str:
        return self.texts[self.uri(relative)]

    def open(self, relative: str, text: str | None = None) -> str:
        """Opens a file of the workspace, with its text on disk or `text`."""
        if text is None:
            text = self.path(relative).read_text(encoding="utf-8")
        uri = self.uri(relative)
        self.texts[uri] = text
        self.versions[uri] = 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="flow", version=1, text=text
                )
            )
        )
        return uri

    def change(self, relative: str, text: str) -> None:
        """Replaces the text of an open document. Under incremental sync this sends
        the one range that changed, as editors do; under full sync the whole text."""
        uri = self.uri(relative)
        old = self.texts[uri]
        self.versions[uri] += 1
        sync = self.server.text_document_sync
        kind = sync.change if isinstance(sync, types.TextDocumentSyncOptions) else sync
        if kind == types.TextDocumentSyncKind.Incremental:
            prefix = 0
            limit = min(len(old), len(text))
            while prefix < limit and old[prefix] == text[prefix]:
                prefix += 1
            suffix = 0
            while (
                suffix < limit - prefix
                and old[len(old) - 1 - suffix] == text[len(text) - 1 - suffix]
            ):
                suffix += 1
            change: types.TextDocumentContentChangeEvent = (
                types.TextDocumentContentChangePartial(
                    range=types.Range(
                        start=self.position_of_index(old, prefix),
                        end=self.position_of_index(old, len(old) - suffix),
                    ),
                    text=text[prefix : len(text) - suffix],
                )
            )
        else:
            change = types.TextDocumentContentChangeWholeDocument(text=text)
        self.texts[uri] = text
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=uri, version=self.versions[uri]
                ),
                content_changes=[change],
            )
        )

    def position_of_index(self, text: str, index: int) -> types.Position:
        return helpers.position_at(text, index, self.encoding)

    def at(self, relative: str, needle: str, offset: int = 0, nth: int = 0) -> types.Position:
        """The position `offset` characters into the `nth` occurrence of `needle` in
        the open document."""
        text = self.text(relative)
        return self.position_of_index(text, helpers.find(text, needle, nth) + offset)

    def doc(self, relative: str) -> types.TextDocumentIdentifier:
        return types.TextDocumentIdentifier(uri=self.uri(relative))

    def publications(self, relative: str) -> list[types.PublishDiagnosticsParams]:
        uri = self.uri(relative)
        return [params for params in self.client.published if params.uri == uri]

    async def diagnostics(self, relative: str, after: int = 0) -> list[helpers.Diag]:
        """The diagnostics of the first publication for `relative` after the first
        `after` ones."""
        await eventually(
            lambda: len(self.publications(relative)) > after,
            f"diagnostics of {relative} (publication {after + 1})",
        )
        published = self.publications(relative)[after]
        return sorted(helpers.from_lsp(d) for d in published.diagnostics)

    async def settled_diagnostics(self, relative: str, expected) -> list[helpers.Diag]:
        """Waits until the latest publication for `relative` equals `expected`, and
        returns it; on a timeout the assertion shows the last one seen."""

        def latest() -> list[helpers.Diag] | None:
            published = self.publications(relative)
            if not published:
                return None
            return sorted(helpers.from_lsp(d) for d in published[-1].diagnostics)

        try:
            await eventually(lambda: latest() == expected, f"diagnostics of {relative}")
        except AssertionError:
            assert latest() == expected
        return expected

    def expected(self, root: str, file: str | None = None) -> list[helpers.Diag]:
        """What `flowc check ROOT` says about `file` (default ROOT), in this
        session's position encoding. It reads the files on disk."""
        return helpers.expected_diagnostics(
            self.path(root), self.path(file or root), self.encoding
        )

    def write(self, relative: str, text: str) -> None:
        self.path(relative).write_text(text, encoding="utf-8")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A temporary workspace: each fixture project and an `examples/` copy."""
    for project in FIXTURES.iterdir():
        if project.is_dir():
            shutil.copytree(project, tmp_path / project.name)
    shutil.copytree(EXAMPLES, tmp_path / "examples", ignore=shutil.ignore_patterns("*.md"))
    return tmp_path


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[flowc(), "lsp"], client_factory=make_client),
    params=CLIENTS,
)
async def lsp(request, lsp_client: LanguageClient, workspace: Path):
    """`flowc lsp` initialised as the client named by the parameter."""
    name = request.param
    lsp_client.name = name
    lsp_client.initialized = await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(name),
            root_uri=workspace.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="workspace")],
            client_info=types.ClientInfo(name=f"pytest-lsp as {name}"),
        )
    )
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def editor(lsp: LanguageClient, workspace: Path) -> Editor:
    return Editor(lsp, lsp.name, lsp.initialized, workspace)
