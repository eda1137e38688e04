//! Event traces: every event the core receives, one line each, written by a background thread; and the parser that
//! turns such a line back into the event, so a trace recorded from a real Asterisk can be replayed without one.
//!
//! Format: fields separated by TAB; the first is the event name ([`crate::event::KINDS`]), the rest are the
//! event's arguments in C ABI order. Strings escape `\\`, TAB, LF and CR as `\\`, `\t`, `\n`, `\r`; a NULL string is
//! `\N`. Floats are written in shortest round-trip form, so a replay reproduces the values bit for bit. Lines that
//! start with `#` are comments.

use crate::event::Event;
// The line format of each event is generated from the event table in src/event.rs.
pub use crate::event::wire::{decode, encode};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::Duration;

/// Lines queued for the writer before new ones are dropped (and counted) rather than blocking the host.
const QUEUE_LINES: usize = 65_536;

/// Appends trace lines to a file from a background thread; the event path only queues (never blocks).
pub struct TraceWriter {
    tx: Option<SyncSender<String>>,
    thread: Option<JoinHandle<()>>,
    dropped: AtomicU64,
}

impl TraceWriter {
    /// Opens (appends to) `path` and starts the writer thread.
    pub fn open(path: &Path) -> std::io::Result<TraceWriter> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let (tx, rx) = sync_channel::<String>(QUEUE_LINES);
        let thread = std::thread::Builder::new()
            .name("prom_rs-trace".into())
            .spawn(move || {
                let _ =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| write_loop(file, rx)));
            })?;
        Ok(TraceWriter {
            tx: Some(tx),
            thread: Some(thread),
            dropped: AtomicU64::new(0),
        })
    }

    /// Queues one event; when the queue is full the line is dropped and counted.
    pub fn record(&self, ev: &Event<'_>) {
        if let Some(tx) = &self.tx {
            if let Err(TrySendError::Full(_)) = tx.try_send(encode(ev)) {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Lines lost because the writer could not keep up.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Writes what is queued, closes the file and joins the thread.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for TraceWriter {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn write_loop(file: File, rx: std::sync::mpsc::Receiver<String>) {
    let mut out = BufWriter::new(file);
    let _ = writeln!(
        out,
        "# res_prom_rs {} event trace; format: see src/trace.rs",
        env!("CARGO_PKG_VERSION")
    );
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                let _ = out.write_all(line.as_bytes());
                let _ = out.write_all(b"\n");
            }
            Err(RecvTimeoutError::Timeout) => {
                let _ = out.flush();
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    let _ = out.flush();
}
