//! Graceful termination: SIGINT, SIGTERM and SIGHUP (on Windows: Ctrl+C, Ctrl+Break and the
//! console closing) set a flag and wake a sleeper, so a tool can write its last record, its
//! `stop` event and its summary before exiting.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// SIGINT's number; Windows reports Ctrl+C under it.
pub const SIGINT: i32 = 2;
/// SIGTERM's number; Windows reports a closing console, logoff and shutdown under it.
pub const SIGTERM: i32 = 15;
/// Ctrl+Break (`CTRL_BREAK_EVENT`), numbered as the C runtime numbers it: how a parent stops
/// a console program gracefully on Windows.
#[cfg(windows)]
pub const SIGBREAK: i32 = 21;

/// Receives termination signals. Install once, early in a tool's `run`.
#[derive(Debug)]
pub struct Termination {
    #[cfg(unix)]
    unix: unix::Hooks,
}

impl Termination {
    /// Starts catching the termination signals (they no longer kill the process).
    pub fn install() -> io::Result<Self> {
        #[cfg(unix)]
        return Ok(Termination {
            unix: unix::Hooks::install()?,
        });
        #[cfg(windows)]
        {
            windows::install()?;
            Ok(Termination {})
        }
    }

    fn flag(&self) -> &AtomicUsize {
        #[cfg(unix)]
        return &self.unix.signal;
        #[cfg(windows)]
        &windows::SIGNAL
    }

    /// The signal received so far, if any (the last one when several arrived).
    pub fn requested(&self) -> Option<i32> {
        match self.flag().load(Ordering::SeqCst) {
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
            #[cfg(unix)]
            self.unix.wait(timeout);
            #[cfg(windows)]
            windows::wait(self, timeout);
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
            #[cfg(unix)]
            unix::SIGHUP => "SIGHUP",
            #[cfg(windows)]
            SIGBREAK => "SIGBREAK",
            _ => "signal",
        }
    }
}

#[cfg(unix)]
mod unix {
    use std::io::{self, Read};
    use std::os::unix::net::UnixStream;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    pub use signal_hook::consts::SIGHUP;
    use signal_hook::consts::{SIGINT, SIGTERM};

    /// The flag the handlers set and the socket they write to, so a sleeper wakes at once.
    #[derive(Debug)]
    pub struct Hooks {
        pub signal: Arc<AtomicUsize>,
        wake: UnixStream,
    }

    impl Hooks {
        pub fn install() -> io::Result<Self> {
            const _: () = assert!(SIGINT == super::SIGINT && SIGTERM == super::SIGTERM);
            let signal = Arc::new(AtomicUsize::new(0));
            let (wake, write) = UnixStream::pair()?;
            write.set_nonblocking(true)?;
            for sig in [SIGINT, SIGTERM, SIGHUP] {
                signal_hook::flag::register_usize(sig, Arc::clone(&signal), sig as usize)?;
                signal_hook::low_level::pipe::register(sig, write.try_clone()?)?;
            }
            Ok(Hooks { signal, wake })
        }

        pub fn wait(&self, timeout: Duration) {
            // A zero read timeout means "block forever"; callers never pass zero.
            let _ = self.wake.set_read_timeout(Some(timeout));
            let mut byte = [0u8; 64];
            let _ = (&self.wake).read(&mut byte);
        }
    }
}

/// Windows: a console control handler (`SetConsoleCtrlHandler`), not the C runtime's
/// `signal`, which cannot be chained reliably.
#[cfg(windows)]
mod windows {
    use std::io;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use windows_sys::Win32::Foundation::{FALSE, TRUE};
    use windows_sys::Win32::System::Console::{
        CTRL_BREAK_EVENT, CTRL_C_EVENT, CTRL_CLOSE_EVENT, CTRL_LOGOFF_EVENT, CTRL_SHUTDOWN_EVENT,
        SetConsoleCtrlHandler,
    };

    use super::{SIGBREAK, SIGINT, SIGTERM, Termination};

    /// The handler's flag: one per process, as the console's handler list is.
    pub static SIGNAL: AtomicUsize = AtomicUsize::new(0);

    /// A handler cannot wake a sleeper directly; a sleeper looks at the flag this often.
    const POLL: Duration = Duration::from_millis(20);

    pub(super) unsafe extern "system" fn on_console_event(event: u32) -> i32 {
        let signal = match event {
            CTRL_C_EVENT => SIGINT,
            CTRL_BREAK_EVENT => SIGBREAK,
            CTRL_CLOSE_EVENT | CTRL_LOGOFF_EVENT | CTRL_SHUTDOWN_EVENT => SIGTERM,
            _ => return FALSE,
        };
        SIGNAL.store(signal as usize, Ordering::SeqCst);
        TRUE
    }

    pub fn install() -> io::Result<()> {
        // SAFETY: the handler is a plain function that only stores to an atomic.
        if unsafe { SetConsoleCtrlHandler(Some(on_console_event), TRUE) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    pub fn wait(t: &Termination, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || t.requested().is_some() {
                return;
            }
            std::thread::sleep(left.min(POLL));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Delivers a termination request to this very process, as the OS would.
    #[cfg(unix)]
    fn request() -> i32 {
        signal_hook::low_level::raise(unix::SIGHUP).expect("raise");
        unix::SIGHUP
    }

    /// Windows calls console handlers on a new thread; so does this. (`GenerateConsoleCtrlEvent`
    /// needs a console, which a test run through a pipe under wine does not have.)
    #[cfg(windows)]
    fn request() -> i32 {
        use windows_sys::Win32::System::Console::CTRL_BREAK_EVENT;
        // SAFETY: the handler only stores to an atomic.
        let handled = std::thread::spawn(|| unsafe { windows::on_console_event(CTRL_BREAK_EVENT) })
            .join()
            .expect("handler thread");
        assert_ne!(
            handled, 0,
            "Ctrl+Break must count as handled, or Windows ends the process"
        );
        SIGBREAK
    }

    #[test]
    fn sleep_times_out_then_wakes_on_a_signal() {
        let t = Termination::install().expect("install");
        let start = Instant::now();
        assert_eq!(t.sleep(Duration::from_millis(50)), None);
        assert!(start.elapsed() >= Duration::from_millis(45));
        let sent = request();
        let start = Instant::now();
        assert_eq!(t.sleep(Duration::from_secs(10)), Some(sent));
        assert!(start.elapsed() < Duration::from_secs(5));
        #[cfg(unix)]
        assert_eq!(Termination::name(sent), "SIGHUP");
        #[cfg(windows)]
        assert_eq!(Termination::name(sent), "SIGBREAK");
    }
}
