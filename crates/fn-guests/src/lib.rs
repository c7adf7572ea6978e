//! Test support: the guests of this repository (`guests/`), as `cargo xtask guests`
//! builds them for `wasm32-wasip1` (and the command guests for `wasm32-wasip2`, as
//! components: [`component`]). Every crate's tests load them from here, so the
//! location and the message for a guest that is not built live in one place. Also
//! [`SpanWatch`], which tells a test that an invocation has started running. The compile
//! bombs `cargo xtask guests` writes beside the guests (`bomb_nested_loops`,
//! `bomb_nested_blocks`, `bomb_million_functions`) load like guests; [`sleeper_wat`] is
//! a guest written inline.

use std::path::PathBuf;

/// The folder `cargo xtask guests` leaves the `.wasm` files in.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../guests/target/wasm32-wasip1/release")
}

/// The path of the guest `name` (`hello`, `handle_upper`, …).
///
/// # Panics
///
/// When the guest is not built, saying how to build it.
pub fn path(name: &str) -> PathBuf {
    let path = dir().join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "guest `{name}` is not built ({}); run `cargo xtask guests`",
        path.display()
    );
    path
}

/// The folder of the command guests built as WASI preview 2 components (`wasm32-wasip2`).
pub fn components_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../guests/target/wasm32-wasip2/release")
}

/// The bytes of the command guest `name` built as a component (`hello`, `upper`, …).
///
/// # Panics
///
/// When it is not built or cannot be read.
pub fn component(name: &str) -> Vec<u8> {
    let path = components_dir().join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "component guest `{name}` is not built ({}); run `cargo xtask guests`",
        path.display()
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The bytes of the guest `name`.
///
/// # Panics
///
/// When the guest is not built or cannot be read.
pub fn bytes(name: &str) -> Vec<u8> {
    let path = path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A WASI command (WebAssembly text) that parks in `poll_oneoff` on the monotonic clock
/// for `ms` milliseconds, then writes `done`: an invocation that stays in flight for a
/// known while without using the CPU.
pub fn sleeper_wat(ms: u64) -> String {
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "\01\00\00\00")
  (data (i32.const 200) "done")
  (data (i32.const 100) "\c8\00\00\00\04\00\00\00")
  (func (export "_start")
    (i64.store (i32.const 24) (i64.const {ns}))
    (drop (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))
    (drop (call $fd_write (i32.const 1) (i32.const 100) (i32.const 1) (i32.const 120)))))"#,
        ns = ms * 1_000_000
    )
}

/// Watches the spans opened on this thread, so that a test learns when an invocation
/// has reached a phase (the runtime opens `execute` just before a guest's code runs)
/// without sleeping.
///
/// It is this thread's default subscriber while it lives: use it in a current-thread
/// runtime (`#[tokio::test]`'s default), where the invocation is polled on this thread.
#[derive(Debug)]
pub struct SpanWatch {
    opened: tokio::sync::mpsc::UnboundedReceiver<&'static str>,
    _guard: tracing::subscriber::DefaultGuard,
}

/// Starts watching the spans opened on this thread.
pub fn watch_spans() -> SpanWatch {
    use tracing_subscriber::layer::SubscriberExt as _;
    // With a single dispatcher registered, tracing computes a span's interest from the
    // default of whichever thread reaches it first: another test's thread, without a
    // subscriber, would switch the span off for every thread. A second dispatcher that
    // lives for good makes tracing ask all of them instead.
    static SECOND: std::sync::LazyLock<tracing::Dispatch> = std::sync::LazyLock::new(|| {
        tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default())
    });
    std::sync::LazyLock::force(&SECOND);
    let (tx, opened) = tokio::sync::mpsc::unbounded_channel();
    let subscriber = tracing_subscriber::registry().with(Opened(tx));
    SpanWatch {
        opened,
        _guard: tracing::subscriber::set_default(subscriber),
    }
}

impl SpanWatch {
    /// Waits until a span called `name` has been opened (since the watch began or the
    /// last call).
    ///
    /// # Panics
    ///
    /// Never in practice: the sender lives as long as the watch.
    pub async fn opened(&mut self, name: &str) {
        loop {
            let next = self.opened.recv().await.expect("the watch is alive");
            if next == name {
                return;
            }
        }
    }
}

struct Opened(tokio::sync::mpsc::UnboundedSender<&'static str>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Opened {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _id: &tracing::span::Id,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let _ = self.0.send(attrs.metadata().name());
    }
}
