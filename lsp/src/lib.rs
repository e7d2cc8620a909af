//! The flowc language server: it will answer an editor's requests (diagnostics,
//! hover, definition, completion, formatting) from the compiler's analysis.
//!
//! Nothing lives here yet. It is the only crate that will know LSP types; positions
//! are converted from the compiler's byte offsets to UTF-16 here, at the edge.
