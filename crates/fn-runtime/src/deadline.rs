//! Deadlines: one epoch ticker thread per runtime, and the callback that stops a guest
//! at its wall-clock deadline.
//!
//! Why epochs: a per-call timer costs a timer registration per invocation, and fuel
//! metering slows every instruction; an epoch check is a load and a compare, and one
//! thread serves every invocation (a peer that ran one ticker per invocation lost two to
//! three orders of magnitude of throughput). Epochs stop running wasm only: a guest
//! parked in a host call is ended by a timer at the same deadline (`at_most_until`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use fn_core::{Error, Result};
use wasmtime::{Engine, StoreContextMut, UpdateDeadline};

use crate::store::StoreState;

/// How often a long-running guest yields to the async executor, in epoch ticks, so that
/// other invocations on the same thread make progress. Every tick: with N guests looping
/// on T threads, a guest whose deadline has passed waits for its turn behind about N / T
/// slices of this length before it is polled and stopped (a yield costs about a
/// microsecond, 0.1 % of a 1 ms tick).
pub(crate) const YIELD_EVERY_TICKS: u64 = 1;

/// The error a guest is interrupted with at its deadline.
#[derive(Debug)]
pub(crate) struct DeadlineExceeded;

impl std::fmt::Display for DeadlineExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("deadline exceeded")
    }
}

impl std::error::Error for DeadlineExceeded {}

/// Arms the epoch checks of `store`, whose wall-clock deadline (`timeout` from when the
/// store was made) is in its state: the first check comes after at most
/// [`YIELD_EVERY_TICKS`] ticks, and [`on_epoch_deadline`] takes over from there.
pub(crate) fn arm(store: &mut wasmtime::Store<StoreState>, timeout: Duration, tick: Duration) {
    store.epoch_deadline_callback(on_epoch_deadline);
    store.set_epoch_deadline(ticks_until(timeout, tick).min(YIELD_EVERY_TICKS));
}

/// Called by wasmtime each time a running guest reaches its epoch deadline: stop it if
/// its wall-clock deadline has passed, otherwise yield to the executor and check again
/// after a few more ticks (or exactly at the deadline, whichever is first).
fn on_epoch_deadline(store: StoreContextMut<'_, StoreState>) -> wasmtime::Result<UpdateDeadline> {
    let state = store.data();
    let now = Instant::now();
    if now >= state.deadline {
        return Err(wasmtime::Error::new(DeadlineExceeded));
    }
    let ticks = ticks_until(state.deadline - now, state.tick).min(YIELD_EVERY_TICKS);
    Ok(UpdateDeadline::Yield(ticks))
}

/// Runs `run` until `deadline` at most: `Err(())` once it has passed. The deadline is
/// checked before `run` is polled, so an invocation whose deadline passed while it
/// waited for its turn on the executor ends without running its guest again (it would
/// otherwise take one more slice of CPU to notice); and a timer at the deadline ends an
/// invocation whose guest is parked in a host call, which epochs cannot interrupt.
pub(crate) async fn at_most_until<F: Future>(deadline: Instant, run: F) -> Result<F::Output, ()> {
    let timer = tokio::time::sleep_until(deadline.into());
    let mut timer = std::pin::pin!(timer);
    let mut run = std::pin::pin!(run);
    std::future::poll_fn(|cx| {
        if Instant::now() >= deadline {
            return Poll::Ready(Err(()));
        }
        if let Poll::Ready(output) = run.as_mut().poll(cx) {
            return Poll::Ready(Ok(output));
        }
        timer.as_mut().poll(cx).map(|()| Err(()))
    })
    .await
}

/// Whole epoch ticks covering `duration`, rounded up, at least one.
pub(crate) fn ticks_until(duration: Duration, tick: Duration) -> u64 {
    let ticks = duration.as_nanos().div_ceil(tick.as_nanos().max(1));
    u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
}

/// Stops the ticker when dropped (the runtime's last clone going away).
#[derive(Debug)]
pub(crate) struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Starts the one thread that advances `engine`'s epoch every `tick`; it holds only a
/// weak handle to the engine and stops when the returned [`Ticker`] is dropped.
pub(crate) fn spawn_ticker(engine: &Engine, tick: Duration) -> Result<Ticker> {
    let weak = engine.weak();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    std::thread::Builder::new()
        .name("fn-epoch-ticker".into())
        .spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })
        .map_err(|e| Error::Internal {
            message: format!("spawning the epoch ticker thread: {e}"),
        })?;
    Ok(Ticker { stop })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_passed_deadline_ends_the_run_before_it_is_polled() {
        let past = Instant::now();
        let polled = std::cell::Cell::new(false);
        let run = async { polled.set(true) };
        assert_eq!(at_most_until(past, run).await, Err(()));
        assert!(!polled.get(), "the guest's future was not polled again");
        let soon = Instant::now() + Duration::from_secs(3600);
        assert_eq!(at_most_until(soon, async { 7 }).await, Ok(7));
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_parked_forever_ends_at_the_deadline_timer() {
        // Paused time: the runtime jumps to the timer once nothing else can run.
        let deadline = Instant::now() + Duration::from_secs(3600);
        let parked = std::future::pending::<()>();
        assert_eq!(at_most_until(deadline, parked).await, Err(()));
    }

    #[test]
    fn ticks_round_up() {
        let ms = Duration::from_millis(1);
        assert_eq!(ticks_until(Duration::from_millis(10), ms), 10);
        assert_eq!(ticks_until(Duration::from_micros(10_001), ms), 11);
        assert_eq!(ticks_until(Duration::ZERO, ms), 1);
    }
}
