//! Image references, normalized exactly as Docker's `distribution/reference` does:
//! `busybox` -> `docker.io/library/busybox:latest`.

use crate::digest::Digest;
use std::fmt;

pub const DEFAULT_REGISTRY: &str = "docker.io";
pub const DEFAULT_TAG: &str = "latest";
const NAME_TOTAL_MAX: usize = 255;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceError {
    #[error(
        "invalid reference format: {0:?} (expected [registry[:port]/]name[:tag][@sha256:digest])"
    )]
    Format(String),
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    Uppercase(String),
    #[error("invalid reference format: repository name must not be longer than {NAME_TOTAL_MAX} characters")]
    TooLong,
    #[error("invalid reference format: invalid tag {0:?} (at most 128 characters of [A-Za-z0-9_.-], not starting with . or -)")]
    Tag(String),
    #[error("invalid reference format: {0}")]
    Digest(#[from] crate::digest::DigestError),
}

/// A fully normalized image reference.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// Registry host (and port), e.g. `docker.io` or `127.0.0.1:5000`.
    pub registry: String,
    /// Repository path inside the registry, e.g. `library/busybox`.
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl Reference {
    /// Parses and normalizes; a reference with neither tag nor digest gets `latest`.
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        let mut r = Self::parse_name_only(input)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(DEFAULT_TAG.to_string());
        }
        Ok(r)
    }

    /// Parses without adding a default tag (for `images busybox` style filters).
    pub fn parse_name_only(input: &str) -> Result<Self, ReferenceError> {
        if input.is_empty() || input.chars().any(|c| c.is_whitespace()) {
            return Err(ReferenceError::Format(input.to_string()));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((n, d)) => (n, Some(d.parse::<Digest>()?)),
            None => (input, None),
        };
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag {
            validate_tag(t)?;
        }
        let (registry, repository) = split_domain(name);
        validate_domain(&registry, input)?;
        if repository.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ReferenceError::Uppercase(repository));
        }
        if !repository.split('/').all(valid_path_component) {
            return Err(ReferenceError::Format(input.to_string()));
        }
        if registry.len() + 1 + repository.len() > NAME_TOTAL_MAX {
            return Err(ReferenceError::TooLong);
        }
        Ok(Reference {
            registry,
            repository,
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// `docker.io/library/busybox`
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The name as Docker prints it: `busybox`, `user/app`, `127.0.0.1:5000/app`.
    pub fn familiar_name(&self) -> String {
        if self.registry == DEFAULT_REGISTRY {
            self.repository
                .strip_prefix("library/")
                .unwrap_or(&self.repository)
                .to_string()
        } else {
            self.name()
        }
    }

    /// `docker.io/library/busybox:latest` (no digest), if the reference has a tag.
    pub fn tagged(&self) -> Option<String> {
        self.tag.as_ref().map(|t| format!("{}:{}", self.name(), t))
    }

    /// `busybox:latest` / `busybox@sha256:..`: what Docker shows to people.
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_name();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
        s
    }

    /// What to ask the registry for: the digest if there is one, else the tag.
    pub fn registry_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }

    pub fn with_digest(&self, digest: &Digest) -> Reference {
        Reference {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            tag: None,
            digest: Some(digest.clone()),
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Turns a stored full name (`docker.io/library/busybox:latest`) into Docker's familiar form.
pub fn familiarize(full: &str) -> String {
    match Reference::parse_name_only(full) {
        Ok(r) => r.familiar(),
        Err(_) => full.to_string(),
    }
}

fn split_domain(name: &str) -> (String, String) {
    let (mut domain, mut remainder) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_REGISTRY.to_string(), name.to_string()),
    };
    if domain == "index.docker.io" {
        domain = DEFAULT_REGISTRY.to_string();
    }
    if domain == DEFAULT_REGISTRY && !remainder.contains('/') {
        remainder = format!("library/{remainder}");
    }
    (domain, remainder)
}

fn validate_domain(domain: &str, input: &str) -> Result<(), ReferenceError> {
    let bad = || ReferenceError::Format(input.to_string());
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        // [IPv6]:port
        let (v6, after) = rest.split_once(']').ok_or_else(bad)?;
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad());
        }
        (None, after.strip_prefix(':'))
    } else {
        match domain.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(domain), None),
        }
    };
    if let Some(host) = host {
        let component_ok = |c: &str| {
            !c.is_empty()
                && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
                && !c.starts_with('-')
                && !c.ends_with('-')
        };
        if !host.split('.').all(component_ok) {
            return Err(bad());
        }
    }
    if let Some(port) = port {
        if port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
    }
    Ok(())
}

/// `alpha-numeric [separator alpha-numeric]*` with separator `[_.]|__|[-]+`.
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b.is_ascii_uppercase()
}

pub fn validate_tag(t: &str) -> Result<(), ReferenceError> {
    let ok = !t.is_empty()
        && t.len() <= 128
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
        && !t.starts_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(ReferenceError::Tag(t.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(s: &str) -> String {
        Reference::parse(s).unwrap().to_string()
    }

    #[test]
    fn normalizes_like_docker() {
        assert_eq!(full("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(full("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(full("user/app"), "docker.io/user/app:latest");
        assert_eq!(
            full("index.docker.io/library/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(full("localhost/app"), "localhost/app:latest");
        assert_eq!(full("127.0.0.1:5000/a/b/c:v1"), "127.0.0.1:5000/a/b/c:v1");
        assert_eq!(
            full("registry.example.com/x"),
            "registry.example.com/x:latest"
        );
        assert_eq!(full("[::1]:5000/app:t"), "[::1]:5000/app:t");
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(
            full(&format!("busybox@{d}")),
            format!("docker.io/library/busybox@{d}")
        );
        assert_eq!(
            full(&format!("busybox:1@{d}")),
            format!("docker.io/library/busybox:1@{d}")
        );
        assert_eq!(
            Reference::parse(&format!("busybox:1@{d}"))
                .unwrap()
                .registry_reference(),
            d
        );
    }

    #[test]
    fn familiar_forms() {
        assert_eq!(
            Reference::parse("busybox").unwrap().familiar(),
            "busybox:latest"
        );
        assert_eq!(
            Reference::parse("user/app:2").unwrap().familiar(),
            "user/app:2"
        );
        assert_eq!(
            Reference::parse("127.0.0.1:5000/app").unwrap().familiar(),
            "127.0.0.1:5000/app:latest"
        );
        assert_eq!(
            familiarize("docker.io/library/busybox:latest"),
            "busybox:latest"
        );
    }

    #[test]
    fn rejects_bad_references() {
        assert_eq!(
            Reference::parse("Busybox").unwrap_err().to_string(),
            "invalid reference format: repository name (library/Busybox) must be lowercase"
        );
        for bad in [
            "",
            "busy box",
            "a//b",
            "-a",
            "a-",
            "a:",
            "a:.x",
            "a@sha256:12",
            "host:po/x",
            "a/b:c:d",
            "a..b",
            "a___b",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(Reference::parse(&"a".repeat(300)).is_err());
        assert!(Reference::parse("a__b").is_ok());
        assert!(Reference::parse("a---b").is_ok());
    }
}
