//! What a run hands the code that waits on AWS and the database, beside its [`crate::settings`]:
//! a way to be cancelled ([`Cancel`]) and somewhere to report progress ([`Events`]). Adapters
//! get both through their context and never reach for Ctrl-C or the terminal themselves, so a
//! test can run them silently and without a signal handler.

use std::time::Duration;

use crate::error::{Error, Result};

/// What a long wait reports as it goes. The terminal ([`crate::progress::Progress`]) draws it;
/// tests use [`Silent`].
pub trait Events {
    /// A one-off line: "address: message".
    fn line(&self, address: &str, message: &str);
    /// The state of a wait for `address`; `what` is what it waits to do ("to become Active"),
    /// so that messages read "waiting for functions.x to become Active".
    fn waiting(&self, address: &str, what: &str, state: &str);
    /// The wait for `address` is over (nothing when none was reported).
    fn done_waiting(&self, address: &str);
    /// The account is being read for `kind`.
    fn reading(&self, kind: &str);
    /// `kind` is read.
    fn done_reading(&self, kind: &str);
}

/// Reports nothing.
pub struct Silent;

impl Events for Silent {
    fn line(&self, _: &str, _: &str) {}
    fn waiting(&self, _: &str, _: &str, _: &str) {}
    fn done_waiting(&self, _: &str) {}
    fn reading(&self, _: &str) {}
    fn done_reading(&self, _: &str) {}
}

/// What ends a run's waits early.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Cancel {
    /// Nothing does (tests; commands that install no Ctrl-C handler see none anyway).
    #[default]
    Never,
    /// Ctrl-C (see [`crate::interrupt`]).
    Interrupt,
}

impl Cancel {
    /// True once the run is cancelled.
    pub fn is_requested(&self) -> bool {
        match self {
            Cancel::Never => false,
            Cancel::Interrupt => crate::interrupt::is_requested(),
        }
    }

    /// Resolves once the run is cancelled; never, when it is not.
    pub async fn requested(&self) {
        match self {
            Cancel::Never => std::future::pending().await,
            Cancel::Interrupt => crate::interrupt::requested().await,
        }
    }

    /// A pause between two polls of something becoming ready; cancelling ends the wait with an
    /// error naming `address`, so the step reports as not finished and a rerun continues it.
    pub async fn sleep(&self, address: &str, d: Duration) -> Result<()> {
        tokio::select! {
            () = tokio::time::sleep(d) => Ok(()),
            () = self.requested() => Err(Error::wait(address, "interrupted while waiting for it; run the command again to continue"
                    )),
        }
    }
}
