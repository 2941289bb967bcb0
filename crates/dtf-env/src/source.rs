//! Where variables come from.
//!
//! Detection reads through [`EnvSource`] rather than `std::env` so that tests, replays and
//! the CLI can hand it any environment; the process environment is one source among
//! several, and only [`crate::from_process_env`] reaches it.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};

/// A read-only view of environment variables.
///
/// Implemented for maps and for lists of `(name, value)` pairs (where, as in a shell,
/// a later pair for the same name wins), so a test can write
/// `detect(&[("GITLAB_CI", "true")])`.
pub trait EnvSource {
    /// The value of `key`, or `None` when it is unset.
    fn get(&self, key: &str) -> Option<String>;
}

impl<T: EnvSource + ?Sized> EnvSource for &T {
    fn get(&self, key: &str) -> Option<String> {
        (**self).get(key)
    }
}

impl<K, V, S> EnvSource for HashMap<K, V, S>
where
    K: Borrow<str> + Eq + Hash,
    V: AsRef<str>,
    S: BuildHasher,
{
    fn get(&self, key: &str) -> Option<String> {
        HashMap::get(self, key).map(|v| v.as_ref().to_owned())
    }
}

impl<K, V> EnvSource for BTreeMap<K, V>
where
    K: Borrow<str> + Ord,
    V: AsRef<str>,
{
    fn get(&self, key: &str) -> Option<String> {
        BTreeMap::get(self, key).map(|v| v.as_ref().to_owned())
    }
}

impl<K: AsRef<str>, V: AsRef<str>> EnvSource for [(K, V)] {
    fn get(&self, key: &str) -> Option<String> {
        self.iter()
            .rev()
            .find(|(k, _)| k.as_ref() == key)
            .map(|(_, v)| v.as_ref().to_owned())
    }
}

impl<K: AsRef<str>, V: AsRef<str>, const N: usize> EnvSource for [(K, V); N] {
    fn get(&self, key: &str) -> Option<String> {
        EnvSource::get(self.as_slice(), key)
    }
}

impl<K: AsRef<str>, V: AsRef<str>> EnvSource for Vec<(K, V)> {
    fn get(&self, key: &str) -> Option<String> {
        EnvSource::get(self.as_slice(), key)
    }
}

/// The real process environment. Private so that [`crate::from_process_env`] stays the
/// one function in dtf that touches `std::env`.
pub(crate) struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        // A value that is not UTF-8 cannot be any of the names, ids or URLs dtf wants.
        std::env::var(key).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_later_wins_like_a_shell() {
        let env = [("A", "1"), ("B", "2"), ("A", "3")];
        assert_eq!(EnvSource::get(&env, "A").as_deref(), Some("3"));
        assert_eq!(EnvSource::get(&env, "B").as_deref(), Some("2"));
        assert_eq!(EnvSource::get(&env, "C"), None);
    }

    #[test]
    fn maps_and_vecs_and_references() {
        let map: HashMap<String, String> = [("A".to_owned(), "x".to_owned())].into();
        assert_eq!(EnvSource::get(&map, "A").as_deref(), Some("x"));
        let tree: BTreeMap<&str, &str> = [("A", "y")].into();
        assert_eq!(EnvSource::get(&tree, "A").as_deref(), Some("y"));
        let vec = vec![("A".to_owned(), "z")];
        assert_eq!(EnvSource::get(&&vec, "A").as_deref(), Some("z"));
        assert_eq!(EnvSource::get(&vec, "B"), None);
    }
}
