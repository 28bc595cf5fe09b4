//! Which URLs may receive webhooks. In live mode only https URLs whose every resolved address
//! is public (no loopback, private, link-local, CGNAT, multicast or unspecified addresses, nor
//! an IPv6 form that carries or reaches one: IPv4-mapped or -compatible, NAT64, 6to4, Teredo), so
//! a merchant cannot point the gateway at its own network. Sandbox mode allows loopback http,
//! which tests and local development need.

use std::net::IpAddr;

use url::Url;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("url must be an absolute http(s) URL")]
    Malformed,
    #[error("live webhook URLs must use https")]
    NotHttps,
    #[error("url host could not be resolved")]
    Unresolvable,
    #[error("url resolves to a private, loopback or otherwise non-public address")]
    NotPublic,
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if v6.is_loopback() || v6.is_unspecified() {
                return false;
            }
            let s = v6.segments();
            let embedded = |hi: u16, lo: u16| {
                let [a, b] = hi.to_be_bytes();
                let [c, d] = lo.to_be_bytes();
                IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d))
            };
            // IPv4-mapped (::ffff:a.b.c.d) and the deprecated IPv4-compatible (::a.b.c.d)
            // addresses reach the IPv4 address they carry.
            if let Some(v4) = v6.to_ipv4() {
                return is_public(IpAddr::V4(v4));
            }
            match (s[0], s[1], s[2]) {
                // NAT64's well-known prefix (64:ff9b::/96) translates to its last 32 bits.
                (0x64, 0xff9b, 0) if s[3..6] == [0, 0, 0] => {
                    return is_public(embedded(s[6], s[7]))
                }
                // Local-use NAT64 (64:ff9b:1::/48): a translator of the network's own.
                (0x64, 0xff9b, 1) => return false,
                // 6to4 (2002::/16) tunnels to the IPv4 address in bits 16 to 48.
                (0x2002, ..) => return is_public(embedded(s[1], s[2])),
                // Teredo (2001::/32) reaches an IPv4 host behind a NAT; documentation
                // (2001:db8::/32) is never a real host.
                (0x2001, 0, _) | (0x2001, 0xdb8, _) => return false,
                _ => {}
            }
            let first = s[0];
            !(v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first & 0xffc0) == 0xfec0)
        }
    }
}

/// Checks a webhook URL for the given mode, resolving its host in live mode.
pub async fn check_url(text: &str, livemode: bool) -> Result<Url, UrlError> {
    let url = Url::parse(text).map_err(|_| UrlError::Malformed)?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() || text.len() > 2048 {
        return Err(UrlError::Malformed);
    }
    if !livemode {
        return Ok(url);
    }
    if url.scheme() != "https" {
        return Err(UrlError::NotHttps);
    }
    let host = url.host_str().ok_or(UrlError::Malformed)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port_or_known_default().unwrap_or(443);
    let addresses: Vec<_> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| UrlError::Unresolvable)?
        .collect();
    if addresses.is_empty() {
        return Err(UrlError::Unresolvable);
    }
    if addresses.iter().all(|a| is_public(a.ip())) {
        Ok(url)
    } else {
        Err(UrlError::NotPublic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn live_urls_must_be_https_and_public() {
        for (url, err) in [
            ("http://example.com/hook", UrlError::NotHttps),
            ("https://127.0.0.1/hook", UrlError::NotPublic),
            ("https://localhost/hook", UrlError::NotPublic),
            ("https://10.1.2.3/hook", UrlError::NotPublic),
            ("https://192.168.1.1/hook", UrlError::NotPublic),
            ("https://169.254.169.254/latest", UrlError::NotPublic),
            ("https://[::1]/hook", UrlError::NotPublic),
            ("https://[fd00::1]/hook", UrlError::NotPublic),
            ("https://100.64.0.1/hook", UrlError::NotPublic),
            // IPv6 forms that carry or reach an IPv4 address inside.
            ("https://[64:ff9b::7f00:1]/hook", UrlError::NotPublic),
            ("https://[64:ff9b::a9fe:a9fe]/hook", UrlError::NotPublic),
            ("https://[64:ff9b:1::a00:1]/hook", UrlError::NotPublic),
            ("https://[2002:7f00:1::1]/hook", UrlError::NotPublic),
            ("https://[2002:a9fe:a9fe::1]/hook", UrlError::NotPublic),
            ("https://[::7f00:1]/hook", UrlError::NotPublic),
            ("https://[::ffff:10.0.0.1]/hook", UrlError::NotPublic),
            (
                "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook",
                UrlError::NotPublic,
            ),
            ("https://[2001:db8::1]/hook", UrlError::NotPublic),
            ("https://[fec0::1]/hook", UrlError::NotPublic),
            ("ftp://example.com/", UrlError::Malformed),
            ("not a url", UrlError::Malformed),
        ] {
            assert_eq!(check_url(url, true).await, Err(err), "{url}");
        }
        assert!(check_url("https://8.8.8.8/hook", true).await.is_ok());
        // The same public host through NAT64 or 6to4 is public.
        assert!(check_url("https://[64:ff9b::808:808]/hook", true)
            .await
            .is_ok());
        assert!(check_url("https://[2002:808:808::1]/hook", true)
            .await
            .is_ok());
        assert!(check_url("https://[2606:4700:4700::1111]/hook", true)
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn sandbox_urls_may_be_loopback() {
        assert!(check_url("http://127.0.0.1:9/hook", false).await.is_ok());
        assert_eq!(
            check_url("file:///etc/passwd", false).await,
            Err(UrlError::Malformed)
        );
    }
}
