//! The registry client (distribution API v2), on reqwest.
//!
//! Why reqwest directly rather than oci-client: a pull streams each blob through digest
//! check, decompression and unpack in one pass while reporting per-layer progress, caps
//! manifest bodies while reading them, tries docker.io mirrors and HTTPS-then-HTTP for
//! insecure registries in order, and reads Docker's `auths`; oci-client covers the protocol
//! but wants to own these decisions. Written down in docs/registry.md.

pub mod auth;

use crate::config::EngineConfig;
use crate::digest::Digest;
use crate::oci::media;
use crate::reference::Reference;
use auth::{Challenge, Credentials};
use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::header::{
    HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE,
};
use reqwest::{Response, StatusCode};
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;
use tokio::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot reach registry {registry} ({url}): {message}")]
    Unreachable {
        registry: String,
        url: String,
        message: String,
    },
    #[error("manifest for {reference} not found: manifest unknown")]
    ManifestNotFound { reference: String },
    #[error("blob {digest} not found in {repository}")]
    BlobNotFound { repository: String, digest: Digest },
    #[error("pull access denied for {repository}, repository does not exist or may require authentication (add credentials for {registry} to ~/.docker/config.json `auths`)")]
    Unauthorized {
        registry: String,
        repository: String,
    },
    #[error("registry {registry} answered {status} for {url}: {body}")]
    Status {
        registry: String,
        url: String,
        status: StatusCode,
        body: String,
    },
    #[error("{what} is larger than the {limit}-byte limit (limits.max_manifest_bytes / max_config_bytes in rdesk's config)")]
    TooLarge { what: String, limit: u64 },
    #[error("{what} does not match its digest: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: Digest,
        actual: Digest,
    },
    #[error("token endpoint {realm} failed: {message}")]
    Token { realm: String, message: String },
    #[error("reading from registry {registry} failed: {message}")]
    Transfer { registry: String, message: String },
    #[error(transparent)]
    Credentials(#[from] auth::CredentialsError),
    #[error("cannot set up TLS for registry {registry}: {message}")]
    Tls { registry: String, message: String },
}

/// Formats an error with its causes (reqwest hides "connection refused" two levels down).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// How long an endpoint with a fallback after it (a mirror, HTTPS before HTTP) may take to
/// answer a manifest request before the next one is tried.
const FALLBACK_TIMEOUT: Duration = Duration::from_secs(15);

/// One base URL to try, e.g. `https://registry-1.docker.io` or a mirror.
#[derive(Debug, Clone)]
struct Endpoint {
    base: String,
}

/// A manifest as fetched: its bytes, the Content-Type, and its digest.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    pub bytes: Bytes,
    pub content_type: Option<String>,
    pub digest: Digest,
}

/// A client for one registry host (with its mirrors), reused for every request of a pull.
pub struct RegistryClient {
    registry: String,
    endpoints: Vec<Endpoint>,
    /// Index into `endpoints` of the one that answered last.
    current: std::sync::atomic::AtomicUsize,
    http: reqwest::Client,
    creds: Option<Credentials>,
    /// Authorization header per (endpoint, repository), filled after a challenge.
    auth: Mutex<HashMap<(String, String), HeaderValue>>,
}

pub fn is_loopback_host(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        registry
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(registry)
    };
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl RegistryClient {
    pub fn new(config: &EngineConfig, registry: &str) -> Result<Self, RegistryError> {
        let rc = &config.registries;
        let insecure = is_loopback_host(registry) || rc.insecure.iter().any(|r| r == registry);
        let mut endpoints = Vec::new();
        if registry == "docker.io" {
            for m in rc.mirrors.get("docker.io").into_iter().flatten() {
                let m = m.trim_end_matches('/');
                let base = if m.contains("://") {
                    m.to_string()
                } else {
                    format!("https://{m}")
                };
                endpoints.push(Endpoint { base });
            }
            endpoints.push(Endpoint {
                base: "https://registry-1.docker.io".into(),
            });
        } else {
            endpoints.push(Endpoint {
                base: format!("https://{registry}"),
            });
            if insecure {
                // As Docker: HTTPS first, plain HTTP if that fails.
                endpoints.push(Endpoint {
                    base: format!("http://{registry}"),
                });
            }
        }
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("rdesk/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(Duration::from_secs(120))
            // reqwest drops Authorization (and cookies) when a redirect changes host or port.
            .redirect(reqwest::redirect::Policy::limited(10))
            .danger_accept_invalid_certs(insecure);
        let cert_dir = rc.certs_dir.join(registry);
        if let Ok(rd) = std::fs::read_dir(&cert_dir) {
            for entry in rd.flatten() {
                let p = entry.path();
                if p.extension().is_some_and(|e| e == "crt") {
                    let tls = |message: String| RegistryError::Tls {
                        registry: registry.to_string(),
                        message,
                    };
                    let pem =
                        std::fs::read(&p).map_err(|e| tls(format!("{}: {e}", p.display())))?;
                    for cert in reqwest::Certificate::from_pem_bundle(&pem)
                        .map_err(|e| tls(format!("{}: {e}", p.display())))?
                    {
                        builder = builder.add_root_certificate(cert);
                    }
                }
            }
        }
        let http = builder.build().map_err(|e| RegistryError::Tls {
            registry: registry.to_string(),
            message: error_chain(&e),
        })?;
        let creds = match &config.docker_config {
            Some(p) => auth::docker_config_credentials(p, registry)?,
            None => None,
        };
        Ok(RegistryClient {
            registry: registry.to_string(),
            endpoints,
            current: std::sync::atomic::AtomicUsize::new(0),
            http,
            creds,
            auth: Mutex::new(HashMap::new()),
        })
    }

    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// GET with auth: on a 401 answers the challenge once and retries.
    async fn get(
        &self,
        endpoint: &Endpoint,
        repository: &str,
        path: &str,
        accept: Option<&str>,
    ) -> Result<Response, RegistryError> {
        let url = format!("{}{}", endpoint.base, path);
        let key = (endpoint.base.clone(), repository.to_string());
        let mut answered = false;
        loop {
            let mut headers = HeaderMap::new();
            if let Some(a) = accept {
                headers.insert(
                    ACCEPT,
                    HeaderValue::from_str(a).expect("static accept header"),
                );
            }
            if let Some(h) = self.auth.lock().await.get(&key) {
                headers.insert(AUTHORIZATION, h.clone());
            }
            let resp = self
                .http
                .get(&url)
                .headers(headers)
                .send()
                .await
                .map_err(|e| RegistryError::Unreachable {
                    registry: self.registry.clone(),
                    url: url.clone(),
                    message: error_chain(&e),
                })?;
            if resp.status() != StatusCode::UNAUTHORIZED || answered {
                if resp.status() == StatusCode::UNAUTHORIZED
                    || resp.status() == StatusCode::FORBIDDEN
                {
                    return Err(RegistryError::Unauthorized {
                        registry: self.registry.clone(),
                        repository: repository.to_string(),
                    });
                }
                return Ok(resp);
            }
            answered = true;
            let challenge = resp
                .headers()
                .get_all(WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(auth::parse_challenge);
            let header = match challenge {
                Some(Challenge::Bearer {
                    realm,
                    service,
                    scope,
                }) => {
                    let scope = scope.unwrap_or_else(|| format!("repository:{repository}:pull"));
                    let token = self.fetch_token(&realm, service.as_deref(), &scope).await?;
                    format!("Bearer {token}")
                }
                Some(Challenge::Basic) => match &self.creds {
                    Some(c) => c.basic_header(),
                    None => {
                        return Err(RegistryError::Unauthorized {
                            registry: self.registry.clone(),
                            repository: repository.to_string(),
                        })
                    }
                },
                None => {
                    return Err(RegistryError::Unauthorized {
                        registry: self.registry.clone(),
                        repository: repository.to_string(),
                    })
                }
            };
            let value = HeaderValue::from_str(&header).map_err(|_| RegistryError::Token {
                realm: endpoint.base.clone(),
                message: "token is not a valid header value".into(),
            })?;
            self.auth.lock().await.insert(key.clone(), value);
        }
    }

    async fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: &str,
    ) -> Result<String, RegistryError> {
        let token_err = |message: String| RegistryError::Token {
            realm: realm.to_string(),
            message,
        };
        let mut req = self.http.get(realm);
        let mut query = vec![("scope", scope)];
        if let Some(s) = service {
            query.push(("service", s));
        }
        req = req.query(&query);
        if let Some(c) = &self.creds {
            req = req.basic_auth(&c.username, Some(&c.password));
        }
        let resp = req.send().await.map_err(|e| token_err(error_chain(&e)))?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(RegistryError::Unauthorized {
                registry: self.registry.clone(),
                repository: scope.to_string(),
            });
        }
        if !status.is_success() {
            return Err(token_err(format!("HTTP {status}")));
        }
        let body = read_capped(resp, 1 << 20, "token response", &self.registry).await?;
        let json: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| token_err(e.to_string()))?;
        json.get("token")
            .or_else(|| json.get("access_token"))
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .ok_or_else(|| token_err("response has no token".into()))
    }

    /// Fetches a manifest or index (mirrors and HTTP fallback tried in order), capped at
    /// `limit` bytes and verified when asked for by digest.
    pub async fn get_manifest(
        &self,
        r: &Reference,
        reference: &str,
        limit: u64,
    ) -> Result<FetchedManifest, RegistryError> {
        let path = format!("/v2/{}/manifests/{}", r.repository, reference);
        let start = self.current.load(std::sync::atomic::Ordering::Relaxed);
        let mut last_err = None;
        for (i, endpoint) in self.endpoints.iter().enumerate().skip(start) {
            let result = async {
                let resp = self
                    .get(endpoint, &r.repository, &path, Some(media::ACCEPT))
                    .await?;
                let status = resp.status();
                if status == StatusCode::NOT_FOUND {
                    return Err(RegistryError::ManifestNotFound {
                        reference: format!("{}:{}", r.familiar_name(), reference)
                            .replace(":sha256:", "@sha256:"),
                    });
                }
                if !status.is_success() {
                    return Err(self.status_error(resp).await);
                }
                let content_type = resp
                    .headers()
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let bytes = read_capped(
                    resp,
                    limit,
                    &format!("manifest for {}", r.familiar()),
                    &self.registry,
                )
                .await?;
                let digest = Digest::of(&bytes);
                if let Ok(expected) = reference.parse::<Digest>() {
                    if expected != digest {
                        return Err(RegistryError::DigestMismatch {
                            what: format!("manifest {reference}"),
                            expected,
                            actual: digest,
                        });
                    }
                }
                Ok(FetchedManifest {
                    bytes,
                    content_type,
                    digest,
                })
            };
            // An endpoint that is not the last one (a mirror, HTTPS before HTTP) must not hang
            // the pull: a plain-HTTP server may never answer a TLS handshake.
            let result = if i + 1 < self.endpoints.len() {
                match tokio::time::timeout(FALLBACK_TIMEOUT, result).await {
                    Ok(r) => r,
                    Err(_) => Err(RegistryError::Unreachable {
                        registry: self.registry.clone(),
                        url: format!("{}{path}", endpoint.base),
                        message: "no answer in time".into(),
                    }),
                }
            } else {
                result.await
            };
            match result {
                Ok(m) => {
                    self.current.store(i, std::sync::atomic::Ordering::Relaxed);
                    return Ok(m);
                }
                // The last endpoint's answer is the one the user sees.
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.expect("a registry has at least one endpoint"))
    }

    fn endpoint(&self) -> &Endpoint {
        &self.endpoints[self
            .current
            .load(std::sync::atomic::Ordering::Relaxed)
            .min(self.endpoints.len() - 1)]
    }

    /// Starts a blob download from the endpoint that served the manifest; the caller streams
    /// and verifies the body.
    pub async fn get_blob(
        &self,
        repository: &str,
        digest: &Digest,
    ) -> Result<Response, RegistryError> {
        let path = format!("/v2/{repository}/blobs/{digest}");
        let resp = self.get(self.endpoint(), repository, &path, None).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Err(RegistryError::BlobNotFound {
                repository: repository.to_string(),
                digest: digest.clone(),
            });
        }
        if !resp.status().is_success() {
            return Err(self.status_error(resp).await);
        }
        Ok(resp)
    }

    /// A small blob (an image config) in memory, capped and verified.
    pub async fn get_blob_bytes(
        &self,
        repository: &str,
        digest: &Digest,
        limit: u64,
    ) -> Result<Bytes, RegistryError> {
        let resp = self.get_blob(repository, digest).await?;
        let bytes = read_capped(resp, limit, &format!("blob {digest}"), &self.registry).await?;
        let actual = Digest::of(&bytes);
        if actual != *digest {
            return Err(RegistryError::DigestMismatch {
                what: format!("blob {digest}"),
                expected: digest.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    async fn status_error(&self, resp: Response) -> RegistryError {
        let status = resp.status();
        let url = resp.url().to_string();
        let body = read_capped(resp, 4096, "error body", &self.registry)
            .await
            .map(|b| String::from_utf8_lossy(&b).trim().to_string())
            .unwrap_or_default();
        RegistryError::Status {
            registry: self.registry.clone(),
            url,
            status,
            body,
        }
    }
}

/// Reads a response body, failing as soon as it passes `limit` bytes (whatever
/// Content-Length claims).
pub async fn read_capped(
    resp: Response,
    limit: u64,
    what: &str,
    registry: &str,
) -> Result<Bytes, RegistryError> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(RegistryError::TooLarge {
            what: what.to_string(),
            limit,
        });
    }
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| RegistryError::Transfer {
            registry: registry.to_string(),
            message: error_chain(&e),
        })?;
        if out.len() as u64 + chunk.len() as u64 > limit {
            return Err(RegistryError::TooLarge {
                what: what.to_string(),
                limit,
            });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_registries_are_insecure_by_default() {
        assert!(is_loopback_host("127.0.0.1:5000"));
        assert!(is_loopback_host("127.3.2.1"));
        assert!(is_loopback_host("localhost:5000"));
        assert!(is_loopback_host("[::1]:5000"));
        assert!(!is_loopback_host("registry.example.com:5000"));
        assert!(!is_loopback_host("10.0.0.1:5000"));
    }
}
