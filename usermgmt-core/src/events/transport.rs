//! [`ReqwestTransport`]: webhook requests over HTTPS with reqwest and rustls (ring), with
//! timeouts, no redirects, and a resolver that refuses non-public addresses.

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;

use super::address::is_public;
use super::dispatcher::WebhookTransport;
use super::policy::WebhookPolicy;
use crate::error::{Error, Result, StorageError};

/// Resolves names with the system resolver and keeps only public addresses (unless
/// private networks are allowed): a name pointing inside the network fails to connect.
struct PublicOnly {
    allow_private: bool,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|_| format!("{host} could not be resolved to a public address"))?
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if found.is_empty() {
                // The same words as a failed lookup: which internal names exist stays unknown.
                return Err(format!("{host} could not be resolved to a public address").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// Sends webhooks with a kept reqwest client (never through a proxy: the public-only
/// resolver must see every name).
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl ReqwestTransport {
    /// A client with the policy's timeout, no redirects, the public-only resolver and the
    /// Mozilla (webpki) roots.
    pub fn new(policy: &WebhookPolicy) -> Result<Self> {
        let failed =
            |e: String| Error::Storage(StorageError::new("building the webhook client", e));
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| failed(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            // No proxy from the environment: a proxy would resolve names itself, past the
            // public-only resolver.
            .no_proxy()
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout.min(std::time::Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(PublicOnly {
                allow_private: policy.allow_private_networks,
            }))
            .user_agent(concat!("usermgmt-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| failed(e.to_string()))?;
        Ok(Self { client })
    }
}

#[async_trait]
impl WebhookTransport for ReqwestTransport {
    async fn post(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: Vec<u8>,
    ) -> std::result::Result<u16, String> {
        let mut request = self.client.post(url).body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        match request.send().await {
            Ok(response) => Ok(response.status().as_u16()),
            Err(e) if e.is_timeout() => Err("the receiver did not answer in time".to_owned()),
            Err(e) if e.is_connect() => Err(format!("could not connect: {e}")),
            Err(e) => Err(format!("the request failed: {e}")),
        }
    }
}
