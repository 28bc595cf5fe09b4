//! Time, injected: the one [`Clock`] of `rialto-core`, re-exported where the engine's code
//! has always found it.

pub use rialto_core::clock::{Clock, ManualClock, SystemClock};
