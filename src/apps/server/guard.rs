//! Who may talk to the server: the `Host` and `Origin` checks, on URLs parsed by the `url`
//! crate rather than split by hand.

use url::{Host, Url};

/// The host and port of a `Host` header (`name`, `name:port`, `[v6]:port`).
fn host_and_port(host: &str) -> Option<(Host<String>, u16)> {
    let url = Url::parse(&format!("http://{}/", host.trim())).ok()?;
    Some((url.host()?.to_owned(), url.port_or_known_default()?))
}

/// The first of `Host` and `Origin` that a request carries more than once, given the names of
/// its headers. Which copy a check reads and which one a proxy behind it reads can differ, so a
/// request with two is refused rather than judged on one.
pub fn repeated_guard_header<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<&'static str> {
    let (mut host, mut origin) = (0, 0);
    for name in names {
        if name.eq_ignore_ascii_case("host") {
            host += 1;
        } else if name.eq_ignore_ascii_case("origin") {
            origin += 1;
        }
    }
    if host > 1 {
        Some("Host")
    } else if origin > 1 {
        Some("Origin")
    } else {
        None
    }
}

/// Is `host` (a `Host` header) a name of this machine's loopback interface? A server listening
/// on loopback answers only to those, so a web page whose domain an attacker re-points at
/// 127.0.0.1 (DNS rebinding) cannot use it. No `Host` at all is not a browser: let through.
pub fn is_loopback_host(host: Option<&str>) -> bool {
    let Some(host) = host else { return true };
    match host_and_port(host) {
        Some((Host::Domain(d), _)) => d == "localhost",
        Some((Host::Ipv4(ip), _)) => ip.is_loopback(),
        Some((Host::Ipv6(ip), _)) => ip.is_loopback(),
        None => false,
    }
}

/// Does this server answer to `host` (a `Host` header)? On loopback only to loopback names.
/// Bound to another address: to IP addresses, `localhost`, the names in `allowed_hosts` and the
/// hosts of `allowed_origins`. A web page whose domain an attacker re-points at this server
/// (DNS rebinding) sends its own name, and is refused. No `Host` at all is not a browser.
pub fn host_allowed(
    host: Option<&str>,
    loopback_server: bool,
    allowed_hosts: &[String],
    allowed_origins: &[String],
) -> bool {
    if loopback_server {
        return is_loopback_host(host);
    }
    let Some(host) = host else { return true };
    match host_and_port(host) {
        Some((Host::Ipv4(_) | Host::Ipv6(_), _)) => true,
        Some((Host::Domain(d), _)) => {
            d == "localhost"
                || allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(&d))
                || allowed_origins
                    .iter()
                    .filter_map(|o| Url::parse(o).ok())
                    .any(|o| o.host_str().is_some_and(|h| h.eq_ignore_ascii_case(&d)))
        }
        None => false,
    }
}

/// May a page from `origin` open a session? Yes when it is listed in `allowed` (exact origins,
/// or `*` for any), or when it is one of this server's own pages: the same host the browser
/// connected to (`host`), on the page's port (`page_port`) or the WebSocket's own. A request
/// without an Origin is not from a browser page (a CLI client, a test) and is let through: the
/// check exists to stop other web sites from using a visitor's browser.
pub fn origin_allowed(
    origin: Option<&str>,
    host: Option<&str>,
    page_port: u16,
    allowed: &[String],
) -> bool {
    let Some(origin) = origin else { return true };
    if allowed.iter().any(|a| a == "*") {
        return true;
    }
    // "null" (sandboxed frames, file://) and anything unparsable is nobody's page.
    let Some(origin) = Url::parse(origin)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
    else {
        return false;
    };
    let same = |o: &Url| {
        (
            o.scheme().to_string(),
            o.host().map(|h| h.to_owned()),
            o.port_or_known_default(),
        )
    };
    if allowed
        .iter()
        .filter_map(|a| Url::parse(a).ok())
        .any(|a| same(&a) == same(&origin))
    {
        return true;
    }
    let Some((host, port)) = host.and_then(host_and_port) else {
        return false;
    };
    origin.host().map(|h| h.to_owned()) == Some(host)
        && origin
            .port_or_known_default()
            .is_some_and(|p| p == page_port || p == port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_host_or_origin_is_caught() {
        assert_eq!(repeated_guard_header(["Host", "Accept", "Origin"]), None);
        assert_eq!(
            repeated_guard_header(["Host", "accept", "HOST"]),
            Some("Host")
        );
        assert_eq!(
            repeated_guard_header(["Origin", "Host", "origin"]),
            Some("Origin")
        );
        assert_eq!(repeated_guard_header([]), None);
    }

    #[test]
    fn origins_must_be_this_servers_pages_or_on_the_allow_list() {
        // The page is served on 8080, the WebSocket answers on 8081.
        let host = Some("127.0.0.1:8081");
        assert!(origin_allowed(None, host, 8080, &[]));
        assert!(origin_allowed(
            Some("http://127.0.0.1:8080"),
            host,
            8080,
            &[]
        ));
        assert!(origin_allowed(
            Some("http://127.0.0.1:8081"),
            host,
            8080,
            &[]
        ));
        assert!(origin_allowed(
            Some("HTTP://LOCALHOST"),
            Some("localhost:80"),
            8080,
            &[]
        ));
        assert!(origin_allowed(
            Some("https://example.com"),
            Some("example.com"),
            443,
            &[]
        ));
        assert!(!origin_allowed(
            Some("http://evil.example"),
            host,
            8080,
            &[]
        ));
        assert!(!origin_allowed(
            Some("http://evil.example:8080"),
            host,
            8080,
            &[]
        ));
        assert!(!origin_allowed(
            Some("http://127.0.0.1:9999"),
            host,
            8080,
            &[]
        ));
        assert!(!origin_allowed(Some("null"), host, 8080, &[]));
        assert!(!origin_allowed(
            Some("file:///tmp/page.html"),
            host,
            8080,
            &[]
        ));
        assert!(!origin_allowed(
            Some("http://127.0.0.1:8080"),
            None,
            8080,
            &[]
        ));
        let allow = vec!["https://app.example:8443".to_string()];
        assert!(origin_allowed(
            Some("https://app.example:8443"),
            host,
            8080,
            &allow
        ));
        assert!(!origin_allowed(
            Some("http://app.example:8443"),
            host,
            8080,
            &allow
        ));
        assert!(origin_allowed(
            Some("http://anything"),
            host,
            8080,
            &["*".to_string()]
        ));
    }

    #[test]
    fn a_public_server_answers_to_addresses_and_its_own_names_only() {
        let hosts = vec!["demo.example".to_string()];
        let origins = vec!["https://app.example:8443".to_string()];
        for ok in [
            None,
            Some("203.0.113.7:8080"),
            Some("[2001:db8::1]:8081"),
            Some("localhost:8080"),
            Some("DEMO.example"),
            Some("app.example:8081"),
        ] {
            assert!(host_allowed(ok, false, &hosts, &origins), "{ok:?}");
        }
        for bad in [
            Some("rebound.attacker.example:8080"),
            Some(""),
            Some("demo.example.evil"),
        ] {
            assert!(!host_allowed(bad, false, &hosts, &origins), "{bad:?}");
        }
        // On loopback, only loopback names, whatever the lists say.
        assert!(!host_allowed(Some("demo.example"), true, &hosts, &origins));
        assert!(host_allowed(Some("127.0.0.1:8080"), true, &[], &[]));
    }

    #[test]
    fn only_loopback_names_pass_the_host_check() {
        for ok in [
            None,
            Some("localhost"),
            Some("localhost:8080"),
            Some("127.0.0.1:8080"),
            Some("127.0.0.2"),
            Some("[::1]:8080"),
            Some("LOCALHOST"),
        ] {
            assert!(is_loopback_host(ok), "{ok:?}");
        }
        for bad in [
            Some("evil.example"),
            Some("evil.example:8080"),
            Some("10.0.0.1:8080"),
            Some("localhost.evil.example"),
            Some("[::2]:80"),
            Some(""),
        ] {
            assert!(!is_loopback_host(bad), "{bad:?}");
        }
    }
}
