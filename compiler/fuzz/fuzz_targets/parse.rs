//! Fuzzes the whole front end: any UTF-8 text through `lex` and `parse`.
//!
//! Parsing never fails and never panics, whatever the input (see
//! `compiler/src/syntax/mod.rs`); libFuzzer looks for the input that proves it
//! wrong: a panic, an overflow, a stack overflow or a hang.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = flowc_compiler::syntax::parse(s);
    }
});
