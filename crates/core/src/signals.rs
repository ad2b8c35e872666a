//! Graceful termination: SIGINT, SIGTERM and SIGHUP set a flag and wake a sleeper, so a
//! tool can write its last record, its `stop` event and its summary before exiting.

use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// Receives termination signals. Install once, early in a tool's `run`.
#[derive(Debug)]
pub struct Termination {
    signal: Arc<AtomicUsize>,
    wake: UnixStream,
}

impl Termination {
    /// Starts catching SIGINT, SIGTERM and SIGHUP (they no longer kill the process).
    pub fn install() -> io::Result<Self> {
        let signal = Arc::new(AtomicUsize::new(0));
        let (read, write) = UnixStream::pair()?;
        write.set_nonblocking(true)?;
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal_hook::flag::register_usize(sig, Arc::clone(&signal), sig as usize)?;
            signal_hook::low_level::pipe::register(sig, write.try_clone()?)?;
        }
        Ok(Termination { signal, wake: read })
    }

    /// The signal received so far, if any (the last one when several arrived).
    pub fn requested(&self) -> Option<i32> {
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            s => i32::try_from(s).ok(),
        }
    }

    /// Sleeps for `timeout`, returning early with the signal if one arrives.
    pub fn sleep(&self, timeout: Duration) -> Option<i32> {
        if let Some(s) = self.requested() {
            return Some(s);
        }
        if !timeout.is_zero() {
            // A zero read timeout means "block forever"; the guard above avoids it.
            let _ = self.wake.set_read_timeout(Some(timeout));
            let mut byte = [0u8; 64];
            let _ = (&self.wake).read(&mut byte);
        }
        self.requested()
    }

    /// True for SIGINT (Ctrl-C), which every tool ends with exit status 130.
    pub fn is_interrupt(signal: i32) -> bool {
        signal == SIGINT
    }

    /// The signal's conventional name (`SIGINT`, ...).
    pub fn name(signal: i32) -> &'static str {
        match signal {
            SIGINT => "SIGINT",
            SIGTERM => "SIGTERM",
            SIGHUP => "SIGHUP",
            _ => "signal",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn sleep_times_out_then_wakes_on_a_signal() {
        let t = Termination::install().expect("install");
        let start = Instant::now();
        assert_eq!(t.sleep(Duration::from_millis(50)), None);
        assert!(start.elapsed() >= Duration::from_millis(45));
        signal_hook::low_level::raise(SIGHUP).expect("raise");
        let start = Instant::now();
        assert_eq!(t.sleep(Duration::from_secs(10)), Some(SIGHUP));
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(Termination::name(SIGHUP), "SIGHUP");
    }
}
