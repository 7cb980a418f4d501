//! A synchronous client of the OCI distribution API (what `pull` needs):
//! the `/v2/` ping, Bearer-token and Basic authentication from the
//! server's challenge, manifests by tag or digest with podman's Accept list
//! (docker schema 1 refused by name), blobs streamed, and a platform picked
//! from an index. HTTPS first; plain HTTP only for a registry the caller
//! marks insecure, and the HTTPS-vs-HTTP failure says how to allow it.
//! 429 and 5xx answers are retried with a backoff; a redirect to another
//! host never carries our `Authorization`.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::archive::{DOCKER_LIST, DOCKER_MANIFEST, Index, Manifest, OCI_INDEX, OCI_MANIFEST};
use crate::error::{Error, Result};
use crate::{ArchiveImage, ArchiveLayer, Reference};

const SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";
const SCHEMA1_PLAIN: &str = "application/vnd.docker.distribution.manifest.v1+json";
const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";
/// Most bytes a manifest or config may have.
const DOC_MAX: u64 = 16 << 20;
const TRIES: u32 = 4;

/// How to reach one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The host (and port) to talk to: `registry-1.docker.io` for
    /// `docker.io`, else the reference's registry.
    pub host: String,
    /// Plain HTTP allowed, and TLS certificates not verified
    /// (`insecure = true`, `--tls-verify=false`).
    pub insecure: bool,
}

impl Endpoint {
    /// The endpoint of a reference's registry.
    pub fn of(reference: &Reference, insecure: bool) -> Endpoint {
        let host = match reference.registry.as_str() {
            "docker.io" => "registry-1.docker.io".to_owned(),
            other => other.to_owned(),
        };
        Endpoint { host, insecure }
    }
}

/// A user name and password (`--creds`, an auth file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user.
    pub username: String,
    /// The password or token.
    pub password: String,
}

/// A client of one registry.
pub struct RegistryClient {
    endpoint: Endpoint,
    creds: Option<Credentials>,
    agent: ureq::Agent,
    /// The scheme that answered (`https`, or `http` when allowed).
    scheme: Mutex<Option<&'static str>>,
    /// `Authorization` values by scope (a Bearer token, or Basic).
    tokens: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

fn reg_err(endpoint: &Endpoint, reason: impl Into<String>) -> Error {
    Error::Registry {
        registry: endpoint.host.clone(),
        reason: reason.into(),
    }
}

/// How often one blob's body may break off and be resumed.
pub const RESUMES: u32 = 3;

/// A blob's body that resumes with a `Range` request where it broke off.
struct Resuming<'c> {
    client: &'c RegistryClient,
    path: String,
    scope: String,
    size: u64,
    done: u64,
    resumes: u32,
    inner: Box<dyn Read + Send + 'c>,
}

impl Read for Resuming<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let broke = match self.inner.read(buf) {
                Ok(0) if self.done < self.size && !buf.is_empty() => std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("the body ended after {} of {} bytes", self.done, self.size),
                ),
                Ok(n) => {
                    self.done += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => e,
            };
            if self.resumes >= RESUMES || self.done >= self.size {
                return Err(broke);
            }
            self.resumes += 1;
            tracing::debug!(path = %self.path, from = self.done, error = %broke, "blob broke off; resuming");
            match self.client.resume(&self.path, &self.scope, self.done) {
                Ok(rest) => self.inner = rest,
                Err(e) => {
                    return Err(std::io::Error::new(
                        broke.kind(),
                        format!("{broke}; resuming: {e}"),
                    ));
                }
            }
        }
    }
}

/// A response, read whole or streamed.
struct Answer {
    status: u16,
    headers: HashMap<String, String>,
    body: ureq::Body,
}

impl RegistryClient {
    /// A client of `endpoint` with optional credentials.
    pub fn new(endpoint: Endpoint, creds: Option<Credentials>) -> RegistryClient {
        let tls = ureq::tls::TlsConfig::builder()
            .disable_verification(endpoint.insecure)
            .build();
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            // A server that stops sending mid-body is given up on, not
            // waited for forever (large layers take minutes, not hours).
            .timeout_recv_body(Some(Duration::from_secs(3600)))
            .max_redirects(5)
            .redirect_auth_headers(ureq::config::RedirectAuthHeaders::SameHost)
            .user_agent("oxpod")
            .tls_config(tls)
            .build();
        RegistryClient {
            endpoint,
            creds,
            agent: config.into(),
            scheme: Mutex::new(None),
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// `GET https://host/v2/...` (or http when allowed and https does not
    /// answer), authenticating when challenged; retried on 429 and 5xx.
    fn get(&self, path: &str, accept: Option<&str>, scope: &str) -> Result<Answer> {
        let mut delay = Duration::from_millis(200);
        let mut last = None;
        for attempt in 0..TRIES {
            let answer = self.get_once(path, accept, scope, None)?;
            if answer.status == 429 || (500..600).contains(&answer.status) {
                tracing::debug!(
                    path,
                    status = answer.status,
                    attempt,
                    "registry busy; retrying"
                );
                last = Some(answer.status);
                std::thread::sleep(delay);
                delay *= 2;
                continue;
            }
            return Ok(answer);
        }
        Err(reg_err(
            &self.endpoint,
            format!(
                "GET {path}: still answered {} after {TRIES} tries",
                last.unwrap_or(0)
            ),
        ))
    }

    /// One GET, answering a challenge once; `range` asks for the bytes
    /// from that offset on.
    fn get_once(
        &self,
        path: &str,
        accept: Option<&str>,
        scope: &str,
        range: Option<u64>,
    ) -> Result<Answer> {
        let auth = self.authorization(scope);
        let answer = self.send(path, accept, auth.as_deref(), range)?;
        if answer.status != 401 {
            return Ok(answer);
        }
        // Challenged: get what it asks for, then once more.
        let challenge = answer
            .headers
            .get("www-authenticate")
            .cloned()
            .unwrap_or_default();
        let auth = self.answer_challenge(&challenge, scope)?;
        let again = self.send(path, accept, Some(&auth), range)?;
        if again.status == 401 {
            return Err(reg_err(
                &self.endpoint,
                format!(
                    "authentication required for {path}: {}; log in, or give --creds",
                    if self.creds.is_some() {
                        "the credentials were refused"
                    } else {
                        "no credentials were given"
                    }
                ),
            ));
        }
        Ok(again)
    }

    fn authorization(&self, scope: &str) -> Option<String> {
        self.tokens.lock().ok()?.get(scope).cloned()
    }

    /// One request on the scheme that works.
    fn send(
        &self,
        path: &str,
        accept: Option<&str>,
        auth: Option<&str>,
        range: Option<u64>,
    ) -> Result<Answer> {
        let known = *self
            .scheme
            .lock()
            .map_err(|_| reg_err(&self.endpoint, "lock poisoned"))?;
        let schemes: &[&'static str] = match known {
            Some(s) => {
                if s == "http" {
                    &["http"]
                } else {
                    &["https"]
                }
            }
            None if self.endpoint.insecure => &["https", "http"],
            None => &["https"],
        };
        let mut first_error = None;
        for scheme in schemes {
            let url = format!("{scheme}://{}{path}", self.endpoint.host);
            let mut req = self.agent.get(&url);
            if let Some(a) = accept {
                req = req.header("Accept", a);
            }
            if let Some(a) = auth {
                req = req.header("Authorization", a);
            }
            if let Some(from) = range {
                req = req.header("Range", format!("bytes={from}-"));
            }
            match req.call() {
                Ok(resp) => {
                    if let Ok(mut s) = self.scheme.lock() {
                        *s = Some(scheme);
                    }
                    let status = resp.status().as_u16();
                    let headers = resp
                        .headers()
                        .iter()
                        .map(|(k, v)| {
                            (
                                k.as_str().to_ascii_lowercase(),
                                v.to_str().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect();
                    return Ok(Answer {
                        status,
                        headers,
                        body: resp.into_body(),
                    });
                }
                Err(e) => {
                    tracing::debug!(url, error = %e, "request failed");
                    first_error.get_or_insert(e.to_string());
                }
            }
        }
        let reason = first_error.unwrap_or_default();
        // The hint only where HTTPS met something else (a plain-HTTP
        // server): not for a name that does not resolve, or a refusal.
        let unreachable = [
            "lookup address",
            "Connection refused",
            "timed out",
            "No route",
        ]
        .iter()
        .any(|m| reason.contains(m));
        let hint = if self.endpoint.insecure || unreachable {
            String::new()
        } else {
            format!(
                "; if {} is a plain-HTTP registry, mark it insecure in registries.conf ([[registry]] location = \"{}\", insecure = true) or use --tls-verify=false",
                self.endpoint.host, self.endpoint.host
            )
        };
        Err(reg_err(
            &self.endpoint,
            format!(
                "cannot reach https://{}{path}: {reason}{hint}",
                self.endpoint.host
            ),
        ))
    }

    /// The `Authorization` a `WWW-Authenticate` challenge asks for.
    fn answer_challenge(&self, challenge: &str, scope: &str) -> Result<String> {
        let (kind, params) = parse_challenge(challenge).ok_or_else(|| {
            reg_err(
                &self.endpoint,
                format!("an authentication challenge oxpod cannot read: {challenge:?}"),
            )
        })?;
        match kind.to_ascii_lowercase().as_str() {
            "basic" => {
                let c = self.creds.as_ref().ok_or_else(|| {
                    reg_err(
                        &self.endpoint,
                        "the registry wants a user and password: log in, or give --creds",
                    )
                })?;
                Ok(format!("Basic {}", basic(c)))
            }
            "bearer" => {
                let realm = params
                    .get("realm")
                    .ok_or_else(|| reg_err(&self.endpoint, "a Bearer challenge without a realm"))?;
                let mut url = format!("{realm}?");
                if let Some(service) = params.get("service") {
                    url.push_str(&format!("service={}&", encode(service)));
                }
                if !scope.is_empty() {
                    url.push_str(&format!("scope={}", encode(scope)));
                }
                let mut req = self.agent.get(&url);
                if let Some(c) = &self.creds {
                    req = req.header("Authorization", format!("Basic {}", basic(c)));
                }
                let mut resp = req.call().map_err(|e| {
                    reg_err(&self.endpoint, format!("token request to {realm}: {e}"))
                })?;
                if resp.status().as_u16() != 200 {
                    return Err(reg_err(
                        &self.endpoint,
                        format!(
                            "the token service {realm} answered {}: {}",
                            resp.status().as_u16(),
                            if self.creds.is_some() {
                                "the credentials were refused"
                            } else {
                                "log in, or give --creds"
                            }
                        ),
                    ));
                }
                #[derive(Deserialize)]
                struct Token {
                    #[serde(default)]
                    token: String,
                    #[serde(default)]
                    access_token: String,
                }
                let body = resp
                    .body_mut()
                    .with_config()
                    .limit(1 << 20)
                    .read_to_vec()
                    .map_err(|e| reg_err(&self.endpoint, format!("token: {e}")))?;
                let t: Token = serde_json::from_slice(&body)
                    .map_err(|e| reg_err(&self.endpoint, format!("token: {e}")))?;
                let token = if t.token.is_empty() {
                    t.access_token
                } else {
                    t.token
                };
                if token.is_empty() {
                    return Err(reg_err(&self.endpoint, "the token service gave no token"));
                }
                let header = format!("Bearer {token}");
                if let Ok(mut m) = self.tokens.lock() {
                    m.insert(scope.to_owned(), header.clone());
                }
                Ok(header)
            }
            other => Err(reg_err(
                &self.endpoint,
                format!("authentication scheme {other:?} is not supported"),
            )),
        }
    }

    fn read_doc(&self, what: &str, answer: Answer) -> Result<Vec<u8>> {
        let mut body = answer.body;
        body.with_config()
            .limit(DOC_MAX)
            .read_to_vec()
            .map_err(|e| reg_err(&self.endpoint, format!("{what}: {e}")))
    }

    /// The `Authorization` for `scope`, fetched through the registry's
    /// challenge once (a HEAD of `probe`) and kept.
    fn authorize(&self, probe: &str, scope: &str) -> Result<Option<String>> {
        if let Some(a) = self.authorization(scope) {
            return Ok(Some(a));
        }
        let answer = self.send(probe, None, None, None)?;
        if answer.status != 401 {
            return Ok(None);
        }
        let challenge = answer
            .headers
            .get("www-authenticate")
            .cloned()
            .unwrap_or_default();
        let auth = self.answer_challenge(&challenge, scope)?;
        if let Ok(mut m) = self.tokens.lock() {
            m.insert(scope.to_owned(), auth.clone());
        }
        Ok(Some(auth))
    }

    fn base_url(&self) -> String {
        let scheme = self.scheme.lock().ok().and_then(|s| *s).unwrap_or("https");
        format!("{scheme}://{}", self.endpoint.host)
    }

    /// Uploads a blob unless the registry has it (`HEAD` first; then a
    /// monolithic upload: `POST` for a location, `PUT ?digest=`). Returns
    /// whether it was sent.
    pub fn push_blob(
        &self,
        repository: &str,
        digest: &str,
        size: u64,
        open: &dyn Fn() -> Result<Box<dyn Read + Send>>,
    ) -> Result<bool> {
        let scope = format!("repository:{repository}:pull,push");
        let auth = self.authorize(&format!("/v2/{repository}/blobs/{digest}"), &scope)?;
        let base = self.base_url();
        let with_auth = |req: ureq::RequestBuilder<ureq::typestate::WithoutBody>| match &auth {
            Some(a) => req.header("Authorization", a),
            None => req,
        };
        let head = with_auth(
            self.agent
                .head(format!("{base}/v2/{repository}/blobs/{digest}")),
        )
        .call()
        .map_err(|e| reg_err(&self.endpoint, format!("HEAD blob {digest}: {e}")))?;
        if head.status().as_u16() == 200 {
            return Ok(false);
        }
        let post = {
            let req = self
                .agent
                .post(format!("{base}/v2/{repository}/blobs/uploads/"));
            let req = match &auth {
                Some(a) => req.header("Authorization", a),
                None => req,
            };
            req.send_empty().map_err(|e| {
                reg_err(
                    &self.endpoint,
                    format!("starting the upload of {digest}: {e}"),
                )
            })?
        };
        if post.status().as_u16() != 202 {
            return Err(reg_err(
                &self.endpoint,
                format!(
                    "starting the upload of {digest}: answered {}",
                    post.status().as_u16()
                ),
            ));
        }
        let location = post
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| reg_err(&self.endpoint, "an upload without a Location"))?
            .to_owned();
        let location = if location.starts_with("http://") || location.starts_with("https://") {
            location
        } else {
            format!("{base}{location}")
        };
        let sep = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{sep}digest={}", encode(digest));
        let req = self
            .agent
            .put(&url)
            .header("Content-Type", "application/octet-stream")
            .header("Content-Length", size.to_string());
        let req = match &auth {
            Some(a) => req.header("Authorization", a),
            None => req,
        };
        let mut body = open()?;
        let put = req
            .send(ureq::SendBody::from_reader(&mut body))
            .map_err(|e| reg_err(&self.endpoint, format!("uploading {digest}: {e}")))?;
        match put.status().as_u16() {
            201 | 204 => Ok(true),
            s => Err(reg_err(
                &self.endpoint,
                format!("uploading {digest}: answered {s}"),
            )),
        }
    }

    /// Puts a manifest under `tag`.
    pub fn push_manifest(
        &self,
        repository: &str,
        tag: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<()> {
        let scope = format!("repository:{repository}:pull,push");
        let auth = self.authorize(&format!("/v2/{repository}/manifests/{tag}"), &scope)?;
        let base = self.base_url();
        let req = self
            .agent
            .put(format!("{base}/v2/{repository}/manifests/{tag}"))
            .header("Content-Type", media_type);
        let req = match &auth {
            Some(a) => req.header("Authorization", a),
            None => req,
        };
        let put = req
            .send(bytes)
            .map_err(|e| reg_err(&self.endpoint, format!("putting the manifest: {e}")))?;
        match put.status().as_u16() {
            200..=202 => Ok(()),
            s => Err(reg_err(
                &self.endpoint,
                format!("putting the manifest of {repository}:{tag}: answered {s}"),
            )),
        }
    }

    /// `GET /v2/` with the credentials (`login`'s check): Ok when the
    /// registry accepts them.
    pub fn check_login(&self) -> Result<()> {
        let answer = self.get("/v2/", None, "")?;
        match answer.status {
            200 => Ok(()),
            s => Err(reg_err(
                &self.endpoint,
                format!("logging in: the registry answered {s}"),
            )),
        }
    }

    /// The manifest `reference` names (tag or digest): its bytes, media
    /// type and digest (checked when asked for by digest).
    pub fn manifest(&self, repository: &str, reference: &str) -> Result<(Vec<u8>, String, String)> {
        let scope = format!("repository:{repository}:pull");
        let path = format!("/v2/{repository}/manifests/{reference}");
        let answer = self.get(&path, Some(ACCEPT), &scope)?;
        match answer.status {
            200 => {}
            404 => {
                return Err(reg_err(
                    &self.endpoint,
                    format!("{repository}:{reference}: manifest unknown (no such image or tag)"),
                ));
            }
            s => {
                return Err(reg_err(&self.endpoint, format!("GET {path}: answered {s}")));
            }
        }
        let media = answer
            .headers
            .get("content-type")
            .map(|c| c.split(';').next().unwrap_or_default().trim().to_owned())
            .unwrap_or_default();
        let header_digest = answer.headers.get("docker-content-digest").cloned();
        let bytes = self.read_doc("manifest", answer)?;
        let digest = format!("sha256:{:x}", Sha256::digest(&bytes));
        if reference.starts_with("sha256:") && reference != digest {
            return Err(Error::DigestMismatch {
                what: format!("manifest {repository}@{reference}"),
                expected: reference.to_owned(),
                actual: digest,
            });
        }
        if let Some(h) = header_digest
            && h.starts_with("sha256:")
            && h != digest
        {
            return Err(Error::DigestMismatch {
                what: format!("manifest {repository}:{reference} (Docker-Content-Digest)"),
                expected: h,
                actual: digest,
            });
        }
        // The media type from the document when the header has none.
        let media = if media.is_empty() || media == "application/json" {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Typed {
                #[serde(default)]
                media_type: String,
                #[serde(default)]
                schema_version: u32,
            }
            let t: Typed = serde_json::from_slice(&bytes)
                .map_err(|e| reg_err(&self.endpoint, format!("manifest is not JSON: {e}")))?;
            if t.schema_version == 1 {
                SCHEMA1.to_owned()
            } else {
                t.media_type
            }
        } else {
            media
        };
        if media == SCHEMA1 || media == SCHEMA1_PLAIN {
            return Err(reg_err(
                &self.endpoint,
                format!(
                    "{repository}:{reference} is a docker schema 1 image, which is deprecated and not supported: push it again with a current tool"
                ),
            ));
        }
        Ok((bytes, media, digest))
    }

    /// The repository's tags (`GET /v2/<repo>/tags/list`, following the
    /// `Link` header's next pages).
    pub fn tags(&self, repository: &str) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Tags {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        self.paged(
            &format!("/v2/{repository}/tags/list"),
            &format!("repository:{repository}:pull"),
            &format!("the tags of {repository}"),
            &|bytes| serde_json::from_slice::<Tags>(bytes).map(|t| t.tags.unwrap_or_default()),
        )
    }

    /// The registry's repositories (`GET /v2/_catalog`, following `Link`
    /// pages): what `search` filters.
    pub fn catalog(&self) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Catalog {
            #[serde(default)]
            repositories: Option<Vec<String>>,
        }
        self.paged(
            "/v2/_catalog",
            "registry:catalog:*",
            "the catalog (the registry may not offer search)",
            &|bytes| {
                serde_json::from_slice::<Catalog>(bytes).map(|c| c.repositories.unwrap_or_default())
            },
        )
    }

    /// A list the registry pages with `Link: <next>; rel="next"`.
    fn paged(
        &self,
        first: &str,
        scope: &str,
        what: &str,
        items: &dyn Fn(&[u8]) -> serde_json::Result<Vec<String>>,
    ) -> Result<Vec<String>> {
        let mut path = first.to_owned();
        let mut out = Vec::new();
        for _ in 0..100 {
            let answer = self.get(&path, Some("application/json"), scope)?;
            if answer.status != 200 {
                return Err(reg_err(
                    &self.endpoint,
                    format!("{what}: answered {}", answer.status),
                ));
            }
            let next = answer.headers.get("link").and_then(|l| {
                // `</v2/...?last=x&n=y>; rel="next"`
                let (target, rel) = l.split_once(';')?;
                rel.contains("next").then(|| {
                    target
                        .trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_owned()
                })
            });
            let bytes = self.read_doc(what, answer)?;
            out.extend(items(&bytes).map_err(|e| reg_err(&self.endpoint, format!("{what}: {e}")))?);
            match next {
                Some(n) if n.starts_with("/v2/") => path = n,
                _ => return Ok(out),
            }
        }
        Err(reg_err(
            &self.endpoint,
            format!("{what} spans more than 100 pages"),
        ))
    }

    /// A blob of `size` bytes, streamed (the caller checks its digest as it
    /// stores it). A body that breaks off is resumed where it stopped with
    /// a `Range` request, up to `RESUMES` (3) times, when the server answers
    /// one with `206` from that offset; otherwise the break is the error.
    pub fn blob<'c>(
        &'c self,
        repository: &str,
        digest: &str,
        size: u64,
    ) -> Result<Box<dyn Read + Send + 'c>> {
        let scope = format!("repository:{repository}:pull");
        let path = format!("/v2/{repository}/blobs/{digest}");
        let answer = self.get(&path, None, &scope)?;
        if answer.status != 200 {
            return Err(reg_err(
                &self.endpoint,
                format!("GET {path}: answered {}", answer.status),
            ));
        }
        Ok(Box::new(Resuming {
            client: self,
            path,
            scope,
            size,
            done: 0,
            resumes: 0,
            inner: Box::new(answer.body.into_reader()),
        }))
    }

    /// The rest of a blob from `from` on: the body of a `206` whose
    /// `Content-Range` starts there.
    fn resume(&self, path: &str, scope: &str, from: u64) -> Result<Box<dyn Read + Send>> {
        let answer = self.get_once(path, None, scope, Some(from))?;
        let range = answer
            .headers
            .get("content-range")
            .cloned()
            .unwrap_or_default();
        if answer.status != 206 || !range.starts_with(&format!("bytes {from}-")) {
            return Err(reg_err(
                &self.endpoint,
                format!(
                    "GET {path} from byte {from}: answered {} {range:?}, not the range asked for",
                    answer.status
                ),
            ));
        }
        Ok(Box::new(answer.body.into_reader()))
    }

    /// The image `reference` names, for `os/arch[/variant]` when it is an
    /// index: its config (read and checked) and its layers' digests and
    /// sizes, to be fetched with [`RegistryClient::blob`].
    pub fn image(&self, reference: &Reference, platform: &PlatformChoice) -> Result<ArchiveImage> {
        let want = reference
            .digest
            .clone()
            .or_else(|| reference.tag.clone())
            .unwrap_or_else(|| "latest".to_owned());
        let (mut bytes, mut media, _) = self.manifest(&reference.repository, &want)?;
        if media == OCI_INDEX || media == DOCKER_LIST {
            let index: Index = serde_json::from_slice(&bytes)
                .map_err(|e| reg_err(&self.endpoint, format!("not an image index: {e}")))?;
            let pick = index.manifests.iter().find(|m| {
                m.platform.as_ref().is_some_and(|p| {
                    p.os == platform.os
                        && p.architecture == platform.arch
                        && platform
                            .variant
                            .as_ref()
                            .is_none_or(|v| p.variant.as_deref() == Some(v.as_str()))
                })
            });
            let Some(m) = pick else {
                let offered: Vec<String> = index
                    .manifests
                    .iter()
                    .filter_map(|m| {
                        m.platform.as_ref().map(|p| match &p.variant {
                            Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
                            None => format!("{}/{}", p.os, p.architecture),
                        })
                    })
                    .collect();
                return Err(reg_err(
                    &self.endpoint,
                    format!(
                        "{} has no image for {}: it offers {}",
                        reference,
                        platform,
                        offered.join(", ")
                    ),
                ));
            };
            (bytes, media, _) = self.manifest(&reference.repository, &m.digest)?;
        }
        if media != OCI_MANIFEST && media != DOCKER_MANIFEST {
            return Err(reg_err(
                &self.endpoint,
                format!("{reference}: manifest media type {media:?} is not an image manifest"),
            ));
        }
        let m: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| reg_err(&self.endpoint, format!("not an image manifest: {e}")))?;
        if !crate::valid_digest(&m.config.digest) {
            return Err(reg_err(
                &self.endpoint,
                format!("config digest {:?} is not sha256", m.config.digest),
            ));
        }
        let mut config = Vec::new();
        self.blob(
            &reference.repository,
            &m.config.digest,
            m.config.size.unwrap_or(0),
        )?
        .take(DOC_MAX)
        .read_to_end(&mut config)
        .map_err(|e| reg_err(&self.endpoint, format!("config: {e}")))?;
        let actual = format!("sha256:{:x}", Sha256::digest(&config));
        if actual != m.config.digest {
            return Err(Error::DigestMismatch {
                what: format!("config of {reference}"),
                expected: m.config.digest,
                actual,
            });
        }
        let mut layers = Vec::new();
        for l in &m.layers {
            if !crate::valid_digest(&l.digest) {
                return Err(reg_err(
                    &self.endpoint,
                    format!("layer digest {:?} is not sha256", l.digest),
                ));
            }
            layers.push(ArchiveLayer {
                member: l.digest.clone(),
                digest: Some(l.digest.clone()),
                size: l.size,
            });
        }
        Ok(ArchiveImage {
            names: vec![reference.to_string()],
            config,
            config_digest: actual,
            layers,
        })
    }
}

/// The platform to pull from an index (`--platform os/arch[/variant]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformChoice {
    /// `linux`.
    pub os: String,
    /// `amd64`.
    pub arch: String,
    /// `v8`, when asked for.
    pub variant: Option<String>,
}

impl PlatformChoice {
    /// The host's: `linux/<arch>`.
    pub fn host() -> PlatformChoice {
        PlatformChoice {
            os: "linux".to_owned(),
            arch: crate::archive::host_arch().to_owned(),
            variant: None,
        }
    }

    /// `os/arch[/variant]`.
    pub fn parse(text: &str) -> Result<PlatformChoice> {
        let parts: Vec<&str> = text.split('/').collect();
        let bad = || Error::InvalidReference {
            reference: text.to_owned(),
            reason: "a platform is os/arch[/variant]".to_owned(),
        };
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(PlatformChoice {
                os: (*os).to_owned(),
                arch: (*arch).to_owned(),
                variant: None,
            }),
            [os, arch, v] if !os.is_empty() && !arch.is_empty() && !v.is_empty() => {
                Ok(PlatformChoice {
                    os: (*os).to_owned(),
                    arch: (*arch).to_owned(),
                    variant: Some((*v).to_owned()),
                })
            }
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for PlatformChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.variant {
            Some(v) => write!(f, "{}/{}/{v}", self.os, self.arch),
            None => write!(f, "{}/{}", self.os, self.arch),
        }
    }
}

/// `Bearer realm="x",service="y"` → ("Bearer", {realm: x, service: y}).
pub(crate) fn parse_challenge(text: &str) -> Option<(String, HashMap<String, String>)> {
    let text = text.trim();
    let (kind, rest) = match text.split_once(' ') {
        Some((k, r)) => (k, r),
        None if !text.is_empty() => (text, ""),
        None => return None,
    };
    let mut params = HashMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut escaped = false;
            for c in chars.by_ref() {
                match (escaped, c) {
                    (true, c) => {
                        value.push(c);
                        escaped = false;
                    }
                    (false, '\\') => escaped = true,
                    (false, '"') => break,
                    (false, c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek() {
                if *c == ',' {
                    break;
                }
                value.push(*c);
                chars.next();
            }
        }
        params.insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    Some((kind.to_owned(), params))
}

fn basic(c: &Credentials) -> String {
    crate::auth::base64_encode(format!("{}:{}", c.username, c.password).as_bytes())
}

/// Percent-encoding of a query value.
fn encode(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse_with_quotes_and_commas() {
        let (k, p) = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        )
        .unwrap();
        assert_eq!(k, "Bearer");
        assert_eq!(p["realm"], "https://auth.example/token");
        assert_eq!(p["service"], "registry.example");
        assert_eq!(p["scope"], "repository:a/b:pull,push");
        let (k, p) = parse_challenge(r#"Basic realm="x \"y\"""#).unwrap();
        assert_eq!((k.as_str(), p["realm"].as_str()), ("Basic", "x \"y\""));
        assert!(parse_challenge("").is_none());
    }

    #[test]
    fn base64_and_query_encoding() {
        use crate::auth::base64_encode;
        assert_eq!(base64_encode(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64_encode(b"a"), "YQ==");
        assert_eq!(base64_encode(b"ab"), "YWI=");
        assert_eq!(encode("repository:a/b:pull"), "repository%3Aa%2Fb%3Apull");
    }

    #[test]
    fn platforms_parse() {
        assert_eq!(
            PlatformChoice::parse("linux/arm64/v8").unwrap().to_string(),
            "linux/arm64/v8"
        );
        assert!(PlatformChoice::parse("linux").is_err());
        assert!(PlatformChoice::parse("linux//x").is_err());
    }
}
