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

#[derive(Debug, Clone, Default)]
pub struct CreateContainerOptions {
    /// Empty: a generated `adjective_surname`.
    pub name: String,
}

#[derive(Debug, Clone, Default)]
pub struct ListContainersOptions {
    pub all: bool,
    /// `-n`: the N most recently created.
    pub limit: Option<usize>,
    /// `status=` filters (any of).
    pub status: Vec<String>,
    /// `name=` filters (substring, as Docker).
    pub name: Vec<String>,
    /// `ancestor=` filters: image reference or ID.
    pub ancestor: Vec<String>,
    /// `id=` filters (prefix).
    pub id: Vec<String>,
}

impl ListContainersOptions {
    pub(crate) fn filters_match(
        &self,
        record: &crate::container::ContainerRecord,
        state: &crate::container::ContainerState,
    ) -> bool {
        let status_ok =
            self.status.is_empty() || self.status.iter().any(|s| s == state.status.as_str());
        let name_ok = self.name.is_empty()
            || self
                .name
                .iter()
                .any(|n| record.name.contains(n.trim_start_matches('/')));
        let id_ok = self.id.is_empty() || self.id.iter().any(|i| record.id.starts_with(i.as_str()));
        let ancestor_ok = self.ancestor.is_empty()
            || self.ancestor.iter().any(|a| {
                let a_norm = crate::reference::Reference::parse(a)
                    .map(|r| r.to_string())
                    .ok();
                let img_norm = crate::reference::Reference::parse(&record.spec.image)
                    .map(|r| r.to_string())
                    .ok();
                record.image_id.to_string() == *a
                    || record
                        .image_id
                        .hex()
                        .starts_with(a.trim_start_matches("sha256:"))
                    || (a_norm.is_some() && a_norm == img_norm)
            });
        status_ok && name_ok && id_ok && ancestor_ok
    }
}

#[derive(Debug, Clone)]
pub struct LogsOptions {
    pub follow: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// Only records at or after this Unix time.
    pub since: Option<i64>,
    /// Only the last N records of the backlog.
    pub tail: Option<usize>,
    pub timestamps: bool,
}

impl Default for LogsOptions {
    fn default() -> Self {
        LogsOptions {
            follow: false,
            stdout: true,
            stderr: true,
            since: None,
            tail: None,
            timestamps: false,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct RemoveContainerOptions {
    pub force: bool,
    /// Also remove anonymous volumes (with the volumes issue).
    pub v: bool,
}

/// `exec`: what to run in a running container.
#[derive(Debug, Clone, Default)]
pub struct ExecConfig {
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub tty: bool,
    pub attach_stdin: bool,
    /// Run in the background (`exec -d`): no client is waited for.
    pub detach: bool,
}

/// `top`: arguments of `ps` (default `-ef`).
#[derive(Debug, Clone, Default)]
pub struct TopOptions {
    pub ps_args: String,
}

/// `cp` out of a container: the path inside it.
#[derive(Debug, Clone, Default)]
pub struct CopyFromContainerOptions {
    pub path: String,
    /// Follow a final symlink of `path` (inside the container), as `cp -L`.
    pub follow_link: bool,
}

/// `cp` into a container: the existing directory the archive is extracted into.
#[derive(Debug, Clone, Default)]
pub struct CopyToContainerOptions {
    pub path: String,
    /// `cp -a` (Docker's `copyUIDGID`): keep the archive's owners instead of root's.
    pub copy_uid_gid: bool,
}

/// `rename`: the new name.
#[derive(Debug, Clone, Default)]
pub struct RenameContainerOptions {
    pub name: String,
}
