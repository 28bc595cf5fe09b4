//! Which URLs may receive webhooks, in test mode as in live mode: only URLs whose every address
//! is public (no loopback, private, link-local, CGNAT, multicast or unspecified addresses, nor
//! an IPv6 form that carries or reaches one: IPv4-mapped or -compatible, NAT64, 6to4, Teredo),
//! so a merchant cannot point the gateway at its own network. Live URLs must be https.
//!
//! Loopback and private targets are allowed only with the explicit development setting
//! `webhooks.allow_private_targets` (local receivers in development and tests).
//!
//! Two checks, one lookup each: [`check_url`] resolves the host when an endpoint is registered
//! (an early, friendly refusal); at delivery [`check_target`] checks the URL without resolving,
//! and the host name is resolved once, by the delivering client, which checks every address
//! with [`is_public`] and connects to exactly those: no second answer (DNS rebinding) can slip
//! in between the check and the connection.

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

/// Whether `ip` is a public unicast address that reaches no private network.
pub fn is_public(ip: IpAddr) -> bool {
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

/// Checks a webhook URL for the given mode and resolves its host: every address must be
/// public unless `allow_private` (the development setting). Used when an endpoint is
/// registered; deliveries use [`check_target`] and the client's checked resolution.
pub async fn check_url(text: &str, livemode: bool, allow_private: bool) -> Result<Url, UrlError> {
    let url = check_target(text, livemode, allow_private)?;
    if allow_private && !livemode {
        return Ok(url);
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

/// Checks a webhook URL without resolving it: the scheme (https in live mode), and an address
/// written in the URL itself, which no resolver sees. A host name is left to the delivering
/// client's resolver, which refuses non-public answers at connect time.
pub fn check_target(text: &str, livemode: bool, allow_private: bool) -> Result<Url, UrlError> {
    let url = Url::parse(text).map_err(|_| UrlError::Malformed)?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() || text.len() > 2048 {
        return Err(UrlError::Malformed);
    }
    if livemode && url.scheme() != "https" {
        return Err(UrlError::NotHttps);
    }
    // Live endpoints never get the development setting, whatever the configuration says.
    let allow_private = allow_private && !livemode;
    let literal = match url.host() {
        Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
        Some(url::Host::Domain(_)) | None => None,
    };
    match literal {
        Some(ip) if !allow_private && !is_public(ip) => Err(UrlError::NotPublic),
        _ => Ok(url),
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
            assert_eq!(check_url(url, true, false).await, Err(err), "{url}");
        }
        assert!(check_url("https://8.8.8.8/hook", true, false).await.is_ok());
        // The same public host through NAT64 or 6to4 is public.
        assert!(check_url("https://[64:ff9b::808:808]/hook", true, false)
            .await
            .is_ok());
        assert!(check_url("https://[2002:808:808::1]/hook", true, false)
            .await
            .is_ok());
        assert!(
            check_url("https://[2606:4700:4700::1111]/hook", true, false)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn test_mode_urls_are_checked_like_live_ones_unless_private_targets_are_allowed() {
        for url in [
            "http://127.0.0.1:9/hook",
            "http://localhost:9/hook",
            "http://10.0.0.7/hook",
            "http://[::1]:9/hook",
            "http://169.254.169.254/latest",
        ] {
            assert_eq!(
                check_url(url, false, false).await,
                Err(UrlError::NotPublic),
                "{url}"
            );
        }
        // Test mode may use http to a public host.
        assert!(check_url("http://8.8.8.8/hook", false, false).await.is_ok());
        // The development setting lets local receivers in, in test mode over http.
        assert!(check_url("http://127.0.0.1:9/hook", false, true)
            .await
            .is_ok());
        assert_eq!(
            check_url("http://127.0.0.1:9/hook", true, true).await,
            Err(UrlError::NotHttps)
        );
        // Live endpoints never get the development setting.
        assert_eq!(
            check_url("https://127.0.0.1:9/hook", true, true).await,
            Err(UrlError::NotPublic)
        );
        assert_eq!(
            check_url("file:///etc/passwd", false, true).await,
            Err(UrlError::Malformed)
        );
    }

    #[test]
    fn a_delivery_target_refuses_a_private_address_literal_without_resolving_anything() {
        assert_eq!(
            check_target("http://127.0.0.1:9/hook", false, false),
            Err(UrlError::NotPublic)
        );
        assert_eq!(
            check_target("https://[::ffff:10.0.0.1]/hook", true, false),
            Err(UrlError::NotPublic)
        );
        // Names are left to the client's checked resolver.
        assert!(check_target("https://hooks.example/x", true, false).is_ok());
        assert!(check_target("http://127.0.0.1:9/hook", false, true).is_ok());
    }
}
