//! Log output through the second net: a writer that scrubs every line of known
//! secret values before it reaches stderr.
//!
//! The runtime's own events name runs, steps, statuses and codes, never a header
//! or a secret. The libraries underneath are another matter: at `FLOWC_LOG=trace`
//! the HTTP stack logs URLs (where an API key may sit in the query) and whatever
//! it chooses to. Rather than trusting every dependency's choices, each formatted
//! event goes through the runtime's [`Redactor`] on its way out. The `tracing`
//! formatter writes an event as one `write_all` to a writer it asks for per event,
//! so the [`Writer`] collects the event whole and scrubs it when it is flushed or
//! dropped: a secret is never split between two writes. A binary hands the
//! formatter a closure that makes one per event:
//!
//! ```no_run
//! # let redactor = flowc_runtime::vault::Redactor::new();
//! let make = move || flowc_runtime::logging::Writer::new(&redactor, std::io::stderr());
//! # let _ = make;
//! ```
//!
//! While the redactor knows no value the writer passes bytes straight through.

use crate::vault::{Redactor, Scrubber};
use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::Arc;

/// Writes one log event to `inner`, scrubbed of the secrets the redactor knew
/// when the writer was made.
pub struct Writer<W: Write> {
    scrubber: Arc<Scrubber>,
    inner: W,
    /// The event so far; empty (and unused) when the scrubber knows nothing.
    buffer: Vec<u8>,
}

impl<W: Write> Writer<W> {
    pub fn new(redactor: &Redactor, inner: W) -> Writer<W> {
        Writer {
            scrubber: redactor.current(),
            inner,
            buffer: Vec::new(),
        }
    }

    /// Scrubs what was collected and writes it out.
    fn emit(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let buffer = std::mem::take(&mut self.buffer);
        let text = String::from_utf8_lossy(&buffer);
        match self.scrubber.scrub(&text) {
            Cow::Borrowed(_) => self.inner.write_all(&buffer),
            Cow::Owned(scrubbed) => self.inner.write_all(scrubbed.as_bytes()),
        }
    }
}

impl<W: Write> Write for Writer<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.scrubber.is_empty() {
            return self.inner.write(bytes);
        }
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.emit()?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for Writer<W> {
    fn drop(&mut self) {
        // A log line that cannot be written is lost, as the formatter would lose it.
        let _ = self.emit();
        let _ = self.inner.flush();
    }
}

impl<W: Write> std::fmt::Debug for Writer<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("scrubber", &self.scrubber)
            .field("buffered", &self.buffer.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::SecretString;

    #[test]
    fn scrubs_a_line_written_in_pieces() {
        let redactor = Redactor::new();
        redactor.learn(&SecretString::new("log-canary-value"));
        let mut out = Vec::new();
        {
            let mut writer = Writer::new(&redactor, &mut out);
            writer
                .write_all(b"{\"url\":\"http://h/?key=log-ca")
                .expect("written");
            writer.write_all(b"nary-value\"}\n").expect("written");
        }
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            "{\"url\":\"http://h/?key=***\"}\n"
        );
    }

    #[test]
    fn passes_bytes_through_while_nothing_is_known() {
        let redactor = Redactor::new();
        let mut out = Vec::new();
        let mut writer = Writer::new(&redactor, &mut out);
        writer.write_all(b"plain line\n").expect("written");
        assert!(writer.buffer.is_empty());
        drop(writer);
        assert_eq!(out, b"plain line\n");
    }

    #[test]
    fn flush_writes_what_was_collected() {
        let redactor = Redactor::new();
        redactor.learn(&SecretString::new("flushed-secret"));
        let mut out = Vec::new();
        let mut writer = Writer::new(&redactor, &mut out);
        writer.write_all(b"a flushed-secret b").expect("written");
        writer.flush().expect("written");
        assert!(writer.buffer.is_empty());
        drop(writer);
        assert_eq!(out, b"a *** b");
    }
}
