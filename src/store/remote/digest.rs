//! HTTP Digest authentication (RFC 7616, MD5 with `qop=auth`), which some
//! SPARQL servers require for updates (Virtuoso's `/sparql-auth`).

use md5::{Digest, Md5};

/// A server's Digest challenge and the count of answers given to it.
#[derive(Debug, Clone)]
pub struct DigestChallenge {
    realm: String,
    nonce: String,
    opaque: Option<String>,
    /// Whether the server offers `qop=auth` (else the RFC 2069 form).
    qop_auth: bool,
    count: u32,
}

impl DigestChallenge {
    /// Reads a `WWW-Authenticate` value; `None` unless it is an MD5 Digest challenge.
    pub fn parse(header: &str) -> Option<Self> {
        let rest = header.trim().strip_prefix("Digest")?.trim_start();
        let mut fields = Vec::new();
        let mut rest = rest;
        while !rest.is_empty() {
            let (name, after) = rest.split_once('=')?;
            let after = after.trim_start();
            let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
                let end = quoted.find('"')?;
                (&quoted[..end], &quoted[end + 1..])
            } else {
                let end = after.find(',').unwrap_or(after.len());
                (after[..end].trim(), &after[end..])
            };
            fields.push((name.trim().to_ascii_lowercase(), value.to_owned()));
            rest = next.trim_start().trim_start_matches(',').trim_start();
        }
        let field = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        if let Some(algorithm) = field("algorithm") {
            if !algorithm.eq_ignore_ascii_case("MD5") {
                return None;
            }
        }
        Some(Self {
            realm: field("realm")?,
            nonce: field("nonce")?,
            opaque: field("opaque"),
            qop_auth: field("qop").is_some_and(|qop| qop.split(',').any(|q| q.trim() == "auth")),
            count: 0,
        })
    }

    /// The `Authorization` value for one request.
    pub fn answer(&mut self, user: &str, password: &str, method: &str, uri: &str) -> String {
        self.count += 1;
        let ha1 = md5_hex(&format!("{user}:{}:{password}", self.realm));
        let ha2 = md5_hex(&format!("{method}:{uri}"));
        let nc = format!("{:08x}", self.count);
        let cnonce = md5_hex(&format!(
            "{}:{}:{:?}",
            self.nonce,
            self.count,
            std::time::SystemTime::now()
        ));
        let mut value = format!(
            "Digest username=\"{user}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", algorithm=MD5",
            self.realm, self.nonce
        );
        if self.qop_auth {
            let response = md5_hex(&format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", self.nonce));
            value += &format!(", qop=auth, nc={nc}, cnonce=\"{cnonce}\", response=\"{response}\"");
        } else {
            let response = md5_hex(&format!("{ha1}:{}:{ha2}", self.nonce));
            value += &format!(", response=\"{response}\"");
        }
        if let Some(opaque) = &self.opaque {
            value += &format!(", opaque=\"{opaque}\"");
        }
        value
    }
}

fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_the_rfc_2617_example() {
        // RFC 2617 section 3.5, with its client nonce.
        let mut challenge = DigestChallenge::parse(
            r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap();
        assert!(challenge.qop_auth);
        let ha1 = md5_hex("Mufasa:testrealm@host.com:Circle Of Life");
        let ha2 = md5_hex("GET:/dir/index.html");
        let response = md5_hex(&format!(
            "{ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:00000001:0a4f113b:auth:{ha2}"
        ));
        assert_eq!(response, "6629fae49393a05397450978507c4ef1");
        let header = challenge.answer("Mufasa", "Circle Of Life", "GET", "/dir/index.html");
        assert!(
            header.contains("nc=00000001") && header.contains("opaque=\"5ccc"),
            "{header}"
        );
        assert!(DigestChallenge::parse("Basic realm=\"x\"").is_none());
        assert!(
            DigestChallenge::parse("Digest realm=\"x\", nonce=\"n\", algorithm=SHA-256").is_none()
        );
    }
}
