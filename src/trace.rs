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
use crate::worker::{Stop, Worker};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

/// Lines queued for the writer before new ones are dropped (and counted) rather than blocking the host.
const QUEUE_LINES: usize = 65_536;

/// The event side of an open trace: queues lines for the writer thread and never blocks. The core keeps it in a
/// lock-free slot, so an event never waits for a reload or for the file.
pub struct TraceQueue {
    tx: SyncSender<String>,
    /// Shared with the core, so the count survives the reload that replaces the queue.
    dropped: Arc<AtomicU64>,
}

impl TraceQueue {
    /// Queues one event; when the queue is full the line is dropped and counted.
    pub fn record(&self, ev: &Event<'_>) {
        if let Err(TrySendError::Full(_)) = self.tx.try_send(encode(ev)) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Lines lost because the writer could not keep up.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// An open trace file: the queue and the thread that appends its lines to the file.
pub struct TraceWriter {
    queue: Option<Arc<TraceQueue>>,
    worker: Option<Worker>,
}

impl TraceWriter {
    /// Opens (appends to) `path` and starts the writer thread; lines the queue has no room for are counted in
    /// `dropped`.
    pub fn open(path: &Path, dropped: Arc<AtomicU64>) -> std::io::Result<TraceWriter> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let (tx, rx) = sync_channel::<String>(QUEUE_LINES);
        let worker = Worker::spawn("trace", move |stop| write_loop(file, rx, stop), || {})?;
        Ok(TraceWriter {
            queue: Some(Arc::new(TraceQueue { tx, dropped })),
            worker: Some(worker),
        })
    }

    /// The queue events are recorded through (hand it to the event path).
    pub fn queue(&self) -> Option<Arc<TraceQueue>> {
        self.queue.clone()
    }

    /// Writes what is queued, closes the file and joins the thread. Drop every [`TraceQueue`] handle first: the
    /// thread ends when the last one is gone (or 200 ms after this call at most).
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.queue.take();
        if let Some(w) = self.worker.take() {
            w.stop();
        }
    }
}

impl Drop for TraceWriter {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn write_loop(file: File, rx: std::sync::mpsc::Receiver<String>, stop: &Stop) {
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
                // A queue handle still held by an event thread must not keep a stopped writer alive.
                if stop.is_set() {
                    break;
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    while let Ok(line) = rx.try_recv() {
        let _ = out.write_all(line.as_bytes());
        let _ = out.write_all(b"\n");
    }
    let _ = out.flush();
}
