//! Which webhook URLs and addresses are accepted: no probing of the internal network.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use super::policy::WebhookPolicy;
use crate::error::{Error, Result};

/// Longest endpoint URL.
pub const MAX_WEBHOOK_URL: usize = 2000;

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || a >= 240
        // Shared address space (carrier-grade NAT), 100.64.0.0/10.
        || (a == 100 && (64..128).contains(&b))
        // Benchmarking, 198.18.0.0/15.
        || (a == 198 && (b == 18 || b == 19))
        // IETF protocol assignments, 192.0.0.0/24; 6to4 relays, 192.88.99.0/24.
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || (a == 192 && b == 88 && ip.octets()[2] == 99))
}

fn public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return public_v4(v4);
    }
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // Unique local fc00::/7, link-local fe80::/10, site-local fec0::/10.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
        // Documentation 2001:db8::/32; IPv4-compatible and NAT64 forms of private space.
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
        || (first == 0x0064 && ip.segments()[1] == 0xff9b)
        // 6to4 (2002::/16) and Teredo (2001::/32) tunnel to IPv4 addresses of any kind.
        || first == 0x2002
        || (first == 0x2001 && ip.segments()[1] == 0)
        || first == 0)
}

/// Whether an address is on the public internet (not loopback, private, link-local,
/// shared, multicast, documentation or reserved space).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => public_v6(v6),
    }
}

/// Parses and checks an endpoint URL under `policy`: `https` (or `http` when allowed), a
/// host, no credentials, no fragment, at most [`MAX_WEBHOOK_URL`] characters; an IP
/// address or `localhost` host must be public unless private networks are allowed. Names
/// are checked again, on every address they resolve to, when a delivery is sent.
pub fn check_webhook_url(url: &str, policy: &WebhookPolicy) -> Result<Url> {
    let refuse = |why: &str| Error::invalid("url", why.to_owned());
    if url.chars().count() > MAX_WEBHOOK_URL || url.chars().any(char::is_control) {
        return Err(refuse("must be at most 2000 printable characters"));
    }
    let parsed = Url::parse(url).map_err(|_| refuse("must be an absolute URL"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if policy.allow_plain_http => {}
        _ => return Err(refuse("must use https")),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(refuse("must not carry credentials"));
    }
    if parsed.fragment().is_some() {
        return Err(refuse("must not have a fragment"));
    }
    let private = match parsed.host() {
        None => return Err(refuse("must name a host")),
        Some(Host::Ipv4(ip)) => !public_v4(ip),
        Some(Host::Ipv6(ip)) => !public_v6(ip),
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost") || !name.contains('.')
        }
    };
    if private && !policy.allow_private_networks {
        return Err(refuse(
            "must be a public address (private, loopback and single-label hosts are refused)",
        ));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_refused() {
        let policy = WebhookPolicy::default();
        for bad in [
            "http://example.com/hook",
            "https://127.0.0.1/hook",
            "https://10.1.2.3/",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[fd00::1]/",
            "https://[2002:7f00:1::]/",
            "https://[2001:0:4136:e378::1]/",
            "https://192.88.99.1/",
            "https://localhost/",
            "https://api.localhost/",
            "https://intranet/",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://user:pw@example.com/",
            "ftp://example.com/",
            "not a url",
        ] {
            assert!(check_webhook_url(bad, &policy).is_err(), "{bad}");
        }
        for good in ["https://example.com/hook", "https://93.184.216.34/x?y=1"] {
            assert!(check_webhook_url(good, &policy).is_ok(), "{good}");
        }
        let open = WebhookPolicy {
            allow_private_networks: true,
            allow_plain_http: true,
            ..WebhookPolicy::default()
        };
        assert!(check_webhook_url("http://127.0.0.1:8080/hook", &open).is_ok());
    }

    #[test]
    fn retry_delays_double_with_jitter_up_to_the_cap() {
        let policy = WebhookPolicy::default();
        assert_eq!(policy.retry_delay(1, 0.0).as_secs(), 5);
        assert_eq!(policy.retry_delay(1, 1.0).as_secs(), 10);
        assert_eq!(policy.retry_delay(3, 1.0).as_secs(), 40);
        assert_eq!(policy.retry_delay(30, 1.0).as_secs(), 3600);
    }
}
