//! [`HttpSetup`]: how whoever builds the venue clients adjusts their HTTP client before it is
//! built. The gateway uses it to hand every venue client its one rustls configuration (the
//! trusted roots, an operator's extra CA), so this crate names no TLS crate and its own tests
//! need none.

use std::fmt;
use std::sync::Arc;

/// A change applied to a venue client's `reqwest::ClientBuilder` (TLS settings, in practice).
/// Cheap to clone: clones share the one function.
#[derive(Clone)]
pub struct HttpSetup(Arc<dyn Fn(reqwest::ClientBuilder) -> reqwest::ClientBuilder + Send + Sync>);

impl HttpSetup {
    pub fn new(
        apply: impl Fn(reqwest::ClientBuilder) -> reqwest::ClientBuilder + Send + Sync + 'static,
    ) -> Self {
        Self(Arc::new(apply))
    }

    /// `builder` with this setup applied; `setup` absent leaves it as it was.
    pub fn apply(setup: Option<&Self>, builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        match setup {
            Some(setup) => (setup.0)(builder),
            None => builder,
        }
    }
}

impl fmt::Debug for HttpSetup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HttpSetup(..)")
    }
}
