//! Log lines go to the host's logger through a callback the host registers (Asterisk's `ast_log`, the reference
//! host's stderr). A panic hook routes panic messages there too, so a bug in the core shows up in the PBX's own log
//! instead of on a console nobody reads.

use std::sync::{Arc, Once, RwLock};

/// Severity, numbered as the C ABI documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(i32)]
pub enum Level {
    /// Something failed.
    Error = 1,
    /// Something is wrong but the core carries on.
    Warning = 2,
    /// Normal operation worth telling (start, stop, reload).
    Notice = 3,
    /// Detail for troubleshooting.
    Debug = 4,
}

/// Where log lines go: the C ABI layer wraps the host's callback in one of these.
pub type Sink = Arc<dyn Fn(Level, &str) + Send + Sync>;

static SINK: RwLock<Option<Sink>> = RwLock::new(None);
static HOOK: Once = Once::new();

/// Registers (or with `None`, removes) the host's logger. Without one, lines go to stderr.
pub fn set_sink(sink: Option<Sink>) {
    *SINK.write().unwrap_or_else(|e| e.into_inner()) = sink;
}

/// Sends one line to the host's logger.
pub fn log(level: Level, message: &str) {
    let sink = SINK.read().unwrap_or_else(|e| e.into_inner()).clone();
    match sink {
        Some(s) => s(level, message),
        None => eprintln!("res_prom_rs: {message}"),
    }
}

/// Installs the panic hook once per process: the message and location go to the host's log at error level.
pub fn install_panic_hook() {
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let msg = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".into());
            let at = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            log(
                Level::Error,
                &format!("internal error (panic){at}: {msg}; the call failed, the host carries on"),
            );
        }));
    });
}
