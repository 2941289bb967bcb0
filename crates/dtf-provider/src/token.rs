//! The API token, kept where it cannot be printed by accident.
//!
//! `Token` has no `Display`, its `Debug` prints a placeholder, and its value is
//! reachable only inside this crate, so no error, log line or `{:?}` of a settings value
//! can carry it. The adapters also scrub it from any text a server sends back before
//! that text becomes part of an error (see [`Token::redact`]).

use std::fmt;

/// A secret credential for a provider's API.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

/// What a token is shown as.
pub const REDACTED: &str = "***";

impl Token {
    /// `None` for an empty or blank value: an unset secret in a CI system often arrives
    /// as an empty variable, and means "no token".
    pub fn new(value: impl Into<String>) -> Option<Token> {
        let value = value.into();
        let trimmed = value.trim();
        if trimmed.is_empty() {
            None
        } else {
            Some(Token(trimmed.to_owned()))
        }
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the token replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        text.replace(&self.0, REDACTED)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({REDACTED})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shows_itself() {
        let t = Token::new(" ghs_secret123 ").expect("a token");
        assert_eq!(format!("{t:?}"), "Token(***)");
        assert_eq!(t.redact("Bearer ghs_secret123 bad"), "Bearer *** bad");
        assert_eq!(t.expose(), "ghs_secret123");
        assert!(Token::new("  ").is_none());
        assert!(Token::new("").is_none());
    }
}
