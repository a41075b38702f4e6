//! Container names: Docker's rules for user-given names and its `adjective_surname` style for
//! generated ones.

const ADJECTIVES: &[&str] = &[
    "admiring",
    "agitated",
    "amazing",
    "awesome",
    "blissful",
    "bold",
    "brave",
    "charming",
    "clever",
    "cool",
    "dazzling",
    "determined",
    "eager",
    "ecstatic",
    "elegant",
    "epic",
    "festive",
    "focused",
    "friendly",
    "gallant",
    "gifted",
    "happy",
    "hopeful",
    "inspiring",
    "jolly",
    "keen",
    "kind",
    "loving",
    "lucid",
    "magical",
    "modest",
    "nice",
    "nifty",
    "optimistic",
    "peaceful",
    "pensive",
    "quirky",
    "relaxed",
    "serene",
    "sharp",
    "stoic",
    "sweet",
    "tender",
    "trusting",
    "upbeat",
    "vibrant",
    "vigilant",
    "wizardly",
    "zealous",
];

const SURNAMES: &[&str] = &[
    "albattani",
    "allen",
    "archimedes",
    "babbage",
    "bell",
    "bohr",
    "brown",
    "carson",
    "curie",
    "darwin",
    "dijkstra",
    "einstein",
    "euclid",
    "euler",
    "faraday",
    "fermat",
    "feynman",
    "franklin",
    "galileo",
    "gauss",
    "goldberg",
    "hamilton",
    "hawking",
    "hopper",
    "hypatia",
    "johnson",
    "kepler",
    "knuth",
    "lamport",
    "lovelace",
    "mccarthy",
    "meitner",
    "newton",
    "noether",
    "pascal",
    "pike",
    "ritchie",
    "shannon",
    "sinoussi",
    "tesla",
    "thompson",
    "torvalds",
    "turing",
    "wilson",
    "wing",
    "wozniak",
    "wright",
    "yalow",
];

/// Docker's `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// A random `adjective_surname` not in `taken`, with a numeric suffix if the pair is.
pub fn generate(taken: &dyn Fn(&str) -> bool, random: &[u8]) -> String {
    let pick = |i: usize, n: usize| {
        random.get(i).copied().unwrap_or(0) as usize * 256
            + random.get(i + 1).copied().unwrap_or(0) as usize % n
    };
    let base = format!(
        "{}_{}",
        ADJECTIVES[pick(0, ADJECTIVES.len()) % ADJECTIVES.len()],
        SURNAMES[pick(2, SURNAMES.len()) % SURNAMES.len()]
    );
    if !taken(&base) {
        return base;
    }
    (1..)
        .map(|n| format!("{base}{n}"))
        .find(|n| !taken(n))
        .expect("an unbounded range has a free name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_docker_rules() {
        assert!(valid("web"));
        assert!(valid("a1"));
        assert!(valid("my_app.v-2"));
        assert!(!valid("a"));
        assert!(!valid("-web"));
        assert!(!valid("we b"));
        assert!(!valid("/web"));
        let g = generate(&|n| n == "admiring_albattani", &[0, 0, 0, 0]);
        assert_eq!(g, "admiring_albattani1");
        assert!(valid(&g));
    }
}
