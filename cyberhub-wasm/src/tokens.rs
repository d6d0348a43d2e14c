//! Where the access and refresh tokens live. [`MemoryTokens`] (the default) keeps them in
//! memory only; implement [`TokenStore`] to persist them (e.g. `sessionStorage`).

use std::cell::RefCell;

/// An access/refresh token pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    /// Short-lived access token (JWT).
    pub access: String,
    /// Refresh token (rotated on every refresh).
    pub refresh: String,
}

/// Token storage.
pub trait TokenStore {
    /// The current pair, if signed in.
    fn get(&self) -> Option<Tokens>;
    /// Replaces the pair.
    fn set(&self, tokens: Tokens);
    /// Forgets the pair (sign-out, or a session that cannot be refreshed).
    fn clear(&self);
}

/// In-memory token storage (lost on reload; nothing reaches disk).
#[derive(Debug, Default)]
pub struct MemoryTokens(RefCell<Option<Tokens>>);

impl TokenStore for MemoryTokens {
    fn get(&self) -> Option<Tokens> {
        self.0.borrow().clone()
    }
    fn set(&self, tokens: Tokens) {
        *self.0.borrow_mut() = Some(tokens);
    }
    fn clear(&self) {
        *self.0.borrow_mut() = None;
    }
}
