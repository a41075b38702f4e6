//! Option structs of the engine API, named after bollard's.

/// `create_image` (pull): `from_image` may carry a tag or digest; `tag` overrides.
#[derive(Debug, Clone, Default)]
pub struct CreateImageOptions {
    pub from_image: String,
    pub tag: String,
    /// `os/arch[/variant]`; empty means the host's.
    pub platform: String,
}

#[derive(Debug, Clone, Default)]
pub struct ListImagesOptions {
    /// Show all images (Docker: also intermediate ones; rdesk has none yet).
    pub all: bool,
    /// `reference=` filter: a repository name (with optional tag) to match.
    pub reference: Option<String>,
    /// `dangling=true|false` filter.
    pub dangling: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct TagImageOptions {
    pub repo: String,
    pub tag: String,
}

#[derive(Debug, Clone, Default)]
pub struct RemoveImageOptions {
    pub force: bool,
    pub noprune: bool,
}

#[derive(Debug, Clone, Default)]
pub struct PruneImagesOptions {
    /// Remove every image no container uses, not only dangling ones.
    pub all: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ImportImageOptions {
    /// Reference to tag the imported image with (optional).
    pub reference: Option<String>,
    /// Commit message, shown as the history comment.
    pub message: Option<String>,
    /// Dockerfile-style changes (`CMD ["sh"]`, `ENV A=b`, ...).
    pub changes: Vec<String>,
}
