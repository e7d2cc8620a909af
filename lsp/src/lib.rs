//! The flowc language server: it answers an editor's requests (diagnostics, hover,
//! definition, completion, formatting and the rest) from the compiler's analysis.
//!
//! It is the only crate that knows LSP types. The compiler answers in byte offsets
//! through `compiler::ide`; this crate converts positions to and from UTF-16 in one
//! module ([`position`]), the answers to the protocol's structures in another
//! (`to_lsp`), and keeps the editor's documents and the workspace's files in a
//! third (`project`). It never runs, deploys or writes anything: opening a file only
//! analyses it. Logs go to the client (`window/logMessage`), never to standard
//! output, which carries the protocol.

#![deny(clippy::print_stdout)]

pub mod position;
mod project;
mod server;
mod to_lsp;

pub use server::{Backend, Options};

use tokio::io::{AsyncRead, AsyncWrite};
use tower_lsp_server::{ClientSocket, LspService, Server};

/// The server as a tower service with the socket of messages it sends the client,
/// for driving it in-process (tests, benchmarks).
pub fn service(options: Options) -> (LspService<Backend>, ClientSocket) {
    LspService::new(|client| Backend::new(client, options))
}

/// Serves one client over standard input and output, as `flowc lsp` does.
pub async fn serve_stdio() {
    serve(tokio::io::stdin(), tokio::io::stdout()).await;
}

/// Serves one client over a pair of streams (standard input and output for
/// `flowc lsp`) until it exits.
pub async fn serve<I, O>(input: I, output: O)
where
    I: AsyncRead + Unpin,
    O: AsyncWrite,
{
    let (service, socket) = service(Options::default());
    Server::new(input, output, socket).serve(service).await;
}
