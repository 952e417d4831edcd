//! Values that must never be printed: tokens, keys, passwords, URLs that hold a password.

/// A value that must never be printed: its `Debug` says `[redacted]`, so that logging the
/// config cannot leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that checks it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::str::FromStr for Secret {
    type Err = &'static str;

    /// Any text but an empty one (`--publish-token ""` or a stray comma would otherwise make a
    /// token that an empty `Bearer ` header matches).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() {
            return Err("a token cannot be empty");
        }
        Ok(Self(text.to_owned()))
    }
}
