//! The environment as a lookup value: resolution reads variables only through this, so every
//! precedence rule is a pure function of its inputs and is tested without touching the process.

use std::sync::Arc;

type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

#[derive(Clone)]
pub struct Env(Arc<Lookup>);

impl Env {
    /// The process environment.
    pub fn process() -> Env {
        Env(Arc::new(|k| std::env::var(k).ok()))
    }

    /// A fixed set of variables (tests, and callers that pass their own environment).
    #[cfg(test)]
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Env {
        let map: std::collections::HashMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Env(Arc::new(move |k| map.get(k).cloned()))
    }

    /// This environment with `vars` in front: a name there answers from there, any other from
    /// `self`.
    pub fn under(self, vars: std::collections::HashMap<String, String>) -> Env {
        Env(Arc::new(move |k| {
            vars.get(k).cloned().or_else(|| (self.0)(k))
        }))
    }

    /// The raw value, as set (possibly empty).
    pub fn raw(&self, name: &str) -> Option<String> {
        (self.0)(name)
    }

    /// The value with surrounding blanks trimmed; unset and blank are the same ("not set").
    pub fn get(&self, name: &str) -> Option<String> {
        self.raw(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Env(..)")
    }
}

/// CI mode, where `check` never writes: env `CI` set to anything but empty, `false` or `0`.
pub fn is_ci(env: &Env) -> bool {
    match env.get("CI") {
        None => false,
        Some(v) => !(v.eq_ignore_ascii_case("false") || v == "0"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_in_front_answer_first_and_the_rest_fall_through() {
        let base = Env::from_pairs([("A", "base"), ("B", "base")]);
        let vars = [("A".to_string(), "front".to_string())]
            .into_iter()
            .collect();
        let env = base.under(vars);
        assert_eq!(env.get("A").as_deref(), Some("front"));
        assert_eq!(env.get("B").as_deref(), Some("base"));
        assert_eq!(env.get("C"), None);
    }

    #[test]
    fn blank_is_unset_and_values_are_trimmed() {
        let env = Env::from_pairs([("A", " x "), ("B", "  "), ("C", "")]);
        assert_eq!(env.get("A").as_deref(), Some("x"));
        assert_eq!(env.get("B"), None);
        assert_eq!(env.get("C"), None);
        assert_eq!(env.raw("C").as_deref(), Some(""));
        assert_eq!(env.get("D"), None);
    }

    #[test]
    fn ci_detection() {
        for on in ["true", "1", "yes", "TRUE", "woodpecker"] {
            assert!(is_ci(&Env::from_pairs([("CI", on)])), "{on}");
        }
        for off in ["", " ", "false", "FALSE", "0"] {
            assert!(!is_ci(&Env::from_pairs([("CI", off)])), "{off}");
        }
        assert!(!is_ci(&Env::from_pairs::<&str, &str>([])));
    }
}
