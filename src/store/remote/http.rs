//! The HTTP side of a remote store: one connection pool, credentials
//! (basic, bearer token, or digest when the server asks for it), a timeout
//! per request, retries with backoff on 5xx and timeouts, and a count of the
//! requests made. Nothing here knows SPARQL.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;

use super::digest::DigestChallenge;
use crate::error::{Error, Result};

/// How to authenticate; never printed (its `Debug` hides the secrets).
#[derive(Clone)]
pub enum Credentials {
    /// User and password: sent as the server's 401 challenge asks (Basic
    /// or Digest), and from then on with every request.
    User { user: String, password: String },
    /// A bearer token.
    Token(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::User { user, .. } => write!(f, "User({user:?}, password hidden)"),
            Self::Token(_) => write!(f, "Token(hidden)"),
        }
    }
}

/// What one request sends.
pub enum Payload<'a> {
    None,
    /// An `application/x-www-form-urlencoded` body.
    Form(&'a [(&'a str, &'a str)]),
    Bytes {
        content_type: &'a str,
        data: &'a [u8],
    },
}

/// A response read in full, with a success status.
pub struct Reply {
    pub content_type: String,
    pub body: Vec<u8>,
}

pub struct HttpClient {
    agent: ureq::Agent,
    credentials: Option<Credentials>,
    retries: u32,
    requests: AtomicU64,
    /// The scheme the server asked for, reused (a Digest challenge with a
    /// fresh count) so that only the first request pays a 401 round trip.
    scheme: Mutex<Option<Scheme>>,
}

/// How a server wants a user and password (some refuse an unasked-for
/// Basic header outright, without a challenge: Virtuoso's /sparql-auth).
enum Scheme {
    Basic,
    Digest(DigestChallenge),
}

/// First wait before a retry; doubled after each.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

impl HttpClient {
    pub fn new(timeout: Duration, retries: u32, credentials: Option<Credentials>) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .user_agent(concat!("kgfuse/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Self {
            agent,
            credentials,
            retries,
            requests: AtomicU64::new(0),
            scheme: Mutex::new(None),
        }
    }

    /// HTTP requests sent so far (retries and authentication round trips included).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Sends a request, retrying with backoff where another try is safe: a
    /// read on 5xx, 429, timeouts and dropped connections; a write only
    /// where the server cannot have applied it (503, 429, no connection).
    /// Any other non-2xx status is an error naming the URL, the status and
    /// the start of the server's message.
    pub fn send(
        &self,
        method: &str,
        url: &str,
        params: &[(&str, &str)],
        accept: &str,
        payload: &Payload<'_>,
        write: bool,
    ) -> Result<Reply> {
        let target = with_params(url, params);
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self.attempt(method, &target, accept, payload);
            let retry = match &outcome {
                Ok((status, _)) if write => matches!(status, 429 | 503),
                Ok((status, _)) => *status >= 500 || *status == 429,
                Err(Transport::NotConnected(_)) => true,
                Err(Transport::Interrupted(_)) => !write,
                Err(Transport::Final(_)) => false,
            };
            if !retry || attempt > self.retries {
                return finish(url, outcome);
            }
            std::thread::sleep(backoff);
            backoff *= 2;
        }
    }

    /// One request, answering the server's challenge once if it sends one.
    fn attempt(
        &self,
        method: &str,
        url: &str,
        accept: &str,
        payload: &Payload<'_>,
    ) -> std::result::Result<(u16, ureq::http::Response<ureq::Body>), Transport> {
        let send = || {
            self.request(
                method,
                url,
                accept,
                payload,
                self.authorization(method, url),
            )
        };
        let response = send()?;
        if response.status().as_u16() != 401 {
            return Ok((response.status().as_u16(), response));
        }
        let Some(Credentials::User { .. }) = &self.credentials else {
            return Ok((401, response));
        };
        let challenges: Vec<&str> = response
            .headers()
            .get_all("www-authenticate")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect();
        let scheme = match challenges.iter().find_map(|c| DigestChallenge::parse(c)) {
            Some(challenge) => Scheme::Digest(challenge),
            None if challenges
                .iter()
                .any(|c| c.trim_start().starts_with("Basic")) =>
            {
                Scheme::Basic
            }
            None => return Ok((401, response)),
        };
        *self.scheme.lock().expect("scheme lock") = Some(scheme);
        let response = send()?;
        Ok((response.status().as_u16(), response))
    }

    fn request(
        &self,
        method: &str,
        url: &str,
        accept: &str,
        payload: &Payload<'_>,
        authorization: Option<String>,
    ) -> std::result::Result<ureq::http::Response<ureq::Body>, Transport> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let builder = ureq::http::Request::builder()
            .method(method)
            .uri(url)
            .header("accept", accept);
        let builder = match authorization {
            Some(value) => builder.header("authorization", value),
            None => builder,
        };
        let sent = match payload {
            Payload::None => self.agent.run(
                builder
                    .body(())
                    .map_err(|e| Transport::Final(e.to_string()))?,
            ),
            Payload::Form(fields) => {
                let body = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(fields.iter())
                    .finish();
                let request = builder
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .map_err(|e| Transport::Final(e.to_string()))?;
                self.agent.run(request)
            }
            Payload::Bytes { content_type, data } => {
                let request = builder
                    .header("content-type", *content_type)
                    .body(*data)
                    .map_err(|e| Transport::Final(e.to_string()))?;
                self.agent.run(request)
            }
        };
        sent.map_err(|e| match e {
            ureq::Error::ConnectionFailed => Transport::NotConnected(e.to_string()),
            ureq::Error::Io(ref io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                Transport::NotConnected(e.to_string())
            }
            ureq::Error::Timeout(_) | ureq::Error::Io(_) => Transport::Interrupted(e.to_string()),
            e => Transport::Final(e.to_string()),
        })
    }

    /// The `Authorization` header for a request, if any.
    fn authorization(&self, method: &str, url: &str) -> Option<String> {
        match self.credentials.as_ref()? {
            Credentials::Token(token) => Some(format!("Bearer {token}")),
            Credentials::User { user, password } => {
                match self.scheme.lock().expect("scheme lock").as_mut()? {
                    Scheme::Digest(challenge) => {
                        Some(challenge.answer(user, password, method, uri_path(url)))
                    }
                    Scheme::Basic => Some(format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD
                            .encode(format!("{user}:{password}"))
                    )),
                }
            }
        }
    }
}

enum Transport {
    /// No connection was made: nothing reached the server.
    NotConnected(String),
    /// A timeout or a dropped connection: the server may have seen the request.
    Interrupted(String),
    Final(String),
}

/// The reply of a successful request, or an error naming the URL and status.
fn finish(
    url: &str,
    outcome: std::result::Result<(u16, ureq::http::Response<ureq::Body>), Transport>,
) -> Result<Reply> {
    let (status, response) = outcome.map_err(
        |(Transport::NotConnected(message)
         | Transport::Interrupted(message)
         | Transport::Final(message))| Error::Endpoint {
            url: url.to_owned(),
            status: None,
            message,
        },
    )?;
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = response
        .into_body()
        .into_with_config()
        .limit(u64::MAX)
        .read_to_vec()
        .map_err(|e| Error::Endpoint {
            url: url.to_owned(),
            status: Some(status),
            message: format!("reading the response failed: {e}"),
        })?;
    if !(200..300).contains(&status) {
        return Err(Error::Endpoint {
            url: url.to_owned(),
            status: Some(status),
            message: server_message(status, &body),
        });
    }
    Ok(Reply { content_type, body })
}

/// The first lines of an error body, or what the status means.
fn server_message(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text: String = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('<'))
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    match (status, text.is_empty()) {
        (401, _) => format!(
            "the server wants credentials (set KGFUSE_ENDPOINT_USER and KGFUSE_ENDPOINT_PASSWORD, or KGFUSE_ENDPOINT_TOKEN){}",
            if text.is_empty() { String::new() } else { format!(": {}", truncate(&text)) }
        ),
        (_, true) => "no message".to_owned(),
        (_, false) => truncate(&text),
    }
}

fn truncate(text: &str) -> String {
    const MAX: usize = 400;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// `url` with query parameters appended (to any it already has).
fn with_params(url: &str, params: &[(&str, &str)]) -> String {
    if params.is_empty() {
        return url.to_owned();
    }
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{encoded}")
}

/// The path and query of a URL, as Digest's `uri` field wants it.
fn uri_path(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    after_scheme.find('/').map_or("/", |i| &after_scheme[i..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_join_those_the_url_has() {
        assert_eq!(
            with_params("http://h/sparql?a=1", &[("graph", "http://x/g#1")]),
            "http://h/sparql?a=1&graph=http%3A%2F%2Fx%2Fg%231"
        );
        assert_eq!(with_params("http://h/s", &[]), "http://h/s");
        assert_eq!(
            uri_path("http://h:8890/sparql-auth?x=1"),
            "/sparql-auth?x=1"
        );
        assert_eq!(uri_path("http://h"), "/");
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let credentials = Credentials::User {
            user: "dba".into(),
            password: "s3cret".into(),
        };
        assert!(!format!("{credentials:?}").contains("s3cret"));
        assert!(!format!("{:?}", Credentials::Token("t0ken".into())).contains("t0ken"));
    }
}
