//! The common-password check: a small list of the passwords attackers try first.
//!
//! A candidate is rejected when, lower-cased, it is on the list, or when stripping its
//! leading/trailing digits and symbols leaves a word of at least four letters that is on
//! the list (`Dragon2024!` is as weak as `dragon`), or when it is one repeated character.

use std::collections::HashSet;
use std::sync::OnceLock;

const LIST: &str = include_str!("common_passwords.txt");

fn list() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        LIST.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// Whether `password` is a well-known or trivially derived weak password.
pub fn is_common_password(password: &str) -> bool {
    let lower = password.to_lowercase();
    let set = list();
    if set.contains(lower.as_str()) {
        return true;
    }
    let mut chars = lower.chars();
    if let Some(first) = chars.next() {
        if chars.all(|c| c == first) {
            return true;
        }
    }
    let core = lower.trim_matches(|c: char| !c.is_alphabetic());
    core.chars().count() >= 4 && set.contains(core)
}

#[cfg(test)]
mod tests {
    use super::is_common_password as weak;

    #[test]
    fn catches_the_usual_suspects() {
        for p in [
            "password",
            "Password123",
            "qwerty123",
            "Dragon2024!",
            "!!letmein!!",
            "aaaaaaaaaa",
            "P@ssw0rd",
        ] {
            assert!(weak(p), "{p}");
        }
        for p in [
            "correct horse battery staple",
            "tv7#Lq-pX9",
            "blue-teamer-2026",
        ] {
            assert!(!weak(p), "{p}");
        }
    }
}
