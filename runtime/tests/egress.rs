//! The egress guard through the real client: every way of writing a loopback,
//! private, link-local or otherwise special address is refused with `R0111`, and a
//! canary listener on loopback proves no connection was opened; the allowlist
//! opens exactly what it names; redirects are never followed; only `http` and
//! `https` URLs are sent.
//!
//! The canary counts accepted connections. A refusal is decided before any
//! connection, so after all the refused calls the test opens one connection of its
//! own and waits until the canary has counted it: the count must then be exactly
//! that one.

#![allow(clippy::unwrap_used)]

use flowc_runtime::clock::{Clock, TestClock};
use flowc_runtime::outbound::{
    Allow, AllowAll, Auth, Client, Egress, Error, Grant, Method, OAuth2, Options,
    PrivateNetworkGuard, Request, SecretString,
};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;

mod common;

use common::{Reply, Server};

/// A listener that accepts and counts connections, and answers nothing.
struct Canary {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

impl Canary {
    /// `None` when the address cannot be bound here (no IPv6, say).
    async fn bind(addr: &str) -> Option<Canary> {
        let listener = TcpListener::bind(addr).await.ok()?;
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Some(Canary { addr, accepted })
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Opens one connection itself, waits until it is counted, and asserts it is
    /// the only one.
    #[allow(clippy::disallowed_methods, reason = "a test bounds its own wait")]
    async fn assert_untouched(&self) {
        let _probe = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.accepted.load(Ordering::SeqCst) == 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(
            self.accepted.load(Ordering::SeqCst),
            1,
            "the canary on {} was connected to besides the probe",
            self.addr
        );
    }
}

fn client(egress: Arc<dyn Egress>) -> Client {
    let clock: Arc<dyn Clock> = Arc::new(TestClock::new(1_700_000_000_000));
    // Short limits: an address that slipped through would fail with R0103 or
    // R0104, not hang the test.
    let options = Options {
        connect_timeout: Duration::from_secs(2),
        default_timeout: Duration::from_secs(3),
        token_timeout: Duration::from_secs(3),
        ..Options::default()
    };
    Client::builder(clock)
        .options(options)
        .egress(egress)
        .build()
        .unwrap()
}

fn guarded(entries: &[&str]) -> Client {
    let entries = entries.iter().map(|entry| entry.parse::<Allow>().unwrap());
    client(Arc::new(PrivateNetworkGuard::new(entries)))
}

async fn get(client: &Client, url: &str) -> Result<flowc_runtime::outbound::Response, Error> {
    client.send(&Request::new(Method::GET, url)).await
}

async fn assert_refused(client: &Client, url: &str) -> Error {
    let error = get(client, url)
        .await
        .err()
        .unwrap_or_else(|| panic!("{url} was allowed"));
    assert_eq!(error.code(), "R0111", "{url}: {error}");
    assert!(
        error.to_string().starts_with("refused to connect to `"),
        "{url}: {error}"
    );
    error
}

#[tokio::test]
async fn every_spelling_of_a_private_address_is_refused_before_connecting() {
    let canary = Canary::bind("127.0.0.1:0").await.unwrap();
    let canary6 = Canary::bind("[::1]:0").await;
    let port = canary.port();
    let client = guarded(&[]);
    let mut urls = vec![
        format!("http://127.0.0.1:{port}/"),
        format!("https://127.0.0.1:{port}/"),
        format!("http://127.1:{port}/"),
        format!("http://2130706433:{port}/"),
        format!("http://0x7f000001:{port}/"),
        format!("http://0x7f.1:{port}/"),
        format!("http://017700000001:{port}/"),
        format!("http://127.0.0.1.:{port}/"),
        format!("http://0.0.0.0:{port}/"),
        format!("http://0:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://LocalHost:{port}/path?query=1"),
        format!("http://[::1]:{port}/"),
        format!("http://[::]:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("http://[::ffff:7f00:1]:{port}/"),
        format!("http://[::ffff:169.254.169.254]:{port}/"),
        format!("http://[64:ff9b::127.0.0.1]:{port}/"),
        format!("http://[::127.0.0.1]:{port}/"),
        format!("http://user:pass@127.0.0.1:{port}/"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://10.0.0.1/".to_string(),
        "http://172.16.0.1/".to_string(),
        "http://192.168.1.1/".to_string(),
        "http://100.64.0.1/".to_string(),
        "http://224.0.0.1/".to_string(),
        "http://255.255.255.255/".to_string(),
        "http://[fd00::1]/".to_string(),
        "http://[fe80::1]/".to_string(),
        "http://[ff02::1]/".to_string(),
    ];
    if let Some(canary6) = &canary6 {
        urls.push(format!("http://[::1]:{}/", canary6.port()));
        urls.push(format!("http://localhost:{}/", canary6.port()));
    }
    for url in &urls {
        assert_refused(&client, url).await;
    }
    canary.assert_untouched().await;
    if let Some(canary6) = &canary6 {
        canary6.assert_untouched().await;
    }
}

#[tokio::test]
async fn the_url_crate_normalises_numeric_hosts_and_the_guard_sees_the_address() {
    // Decided on the parsed address either way: the client never sees the text.
    for (written, host) in [
        ("http://2130706433/", "127.0.0.1"),
        ("http://0x7f000001/", "127.0.0.1"),
        ("http://127.1/", "127.0.0.1"),
        ("http://017700000001/", "127.0.0.1"),
        ("http://[::ffff:127.0.0.1]/", "[::ffff:7f00:1]"),
    ] {
        let url = reqwest::Url::parse(written).unwrap();
        assert_eq!(url.host_str(), Some(host), "{written}");
    }
    let error = assert_refused(&guarded(&[]), "http://2130706433:9/").await;
    let Error::Egress { target, ip, reason } = error else {
        unreachable!()
    };
    assert_eq!(target, "127.0.0.1:9");
    assert_eq!(ip, Some("127.0.0.1".parse().unwrap()));
    assert!(
        reason.starts_with("127.0.0.1 is in 127.0.0.0/8: a loopback address"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_on_its_resolved_address() {
    // The machine's own resolver says `localhost` is loopback; the guard judges
    // that answer, not the name.
    let resolved: Vec<IpAddr> = tokio::net::lookup_host("localhost:0")
        .await
        .unwrap()
        .map(|addr| addr.ip())
        .collect();
    assert!(!resolved.is_empty());
    assert!(resolved.iter().all(IpAddr::is_loopback), "{resolved:?}");
    let canary = Canary::bind("127.0.0.1:0").await.unwrap();
    let error = assert_refused(
        &guarded(&[]),
        &format!("http://localhost:{}/", canary.port()),
    )
    .await;
    let Error::Egress { target, ip, .. } = error else {
        unreachable!()
    };
    assert_eq!(target, "localhost");
    assert!(ip.is_some_and(|ip| ip.is_loopback()), "{ip:?}");
    canary.assert_untouched().await;
}

#[tokio::test]
async fn only_http_and_https_are_sent_whatever_the_guard() {
    let canary = Canary::bind("127.0.0.1:0").await.unwrap();
    let port = canary.port();
    for client in [guarded(&[]), client(Arc::new(AllowAll))] {
        for url in [
            "file:///etc/passwd".to_string(),
            format!("ftp://127.0.0.1:{port}/"),
            format!("ftp://user:secret@127.0.0.1:{port}/file"),
            format!("gopher://127.0.0.1:{port}/"),
            format!("ws://127.0.0.1:{port}/"),
        ] {
            let error = assert_refused(&client, &url).await;
            let message = error.to_string();
            assert!(message.contains("the scheme `"), "{message}");
            assert!(!message.contains("secret"), "{message}");
        }
    }
    canary.assert_untouched().await;
}

#[tokio::test]
async fn an_oauth2_token_endpoint_passes_the_same_guard() {
    let canary = Canary::bind("127.0.0.1:0").await.unwrap();
    let port = canary.port();
    let mut request = Request::new(Method::GET, format!("http://127.0.0.1:{port}/api"));
    for token_url in [
        format!("http://localhost:{port}/token"),
        format!("http://[::ffff:127.0.0.1]:{port}/token"),
        "file:///var/run/secrets/token".to_string(),
    ] {
        request.auth = Auth::OAuth2(OAuth2 {
            token_url: token_url.clone(),
            client_id: SecretString::new("id"),
            client_secret: SecretString::new("secret"),
            grant: Grant::ClientCredentials,
            scopes: Vec::new(),
        });
        let error = guarded(&[]).send(&request).await.unwrap_err();
        assert_eq!(error.code(), "R0111", "{token_url}: {error}");
        // The token endpoint is refused first, before the API call.
        let Error::Egress { target, .. } = &error else {
            unreachable!()
        };
        assert!(
            !target.starts_with(&format!("127.0.0.1:{port}")),
            "{token_url}: the API call was tried first: {error}"
        );
    }
    canary.assert_untouched().await;
}

#[tokio::test]
async fn a_cidr_opens_its_range_and_not_the_neighbour() {
    let server = Server::start(|_, _| Reply::status(200)).await;
    let port = server.addr.port();
    let canary = Canary::bind("127.0.0.2:0").await.unwrap();

    let open = guarded(&["127.0.0.1/32"]);
    assert_eq!(get(&open, &server.url("/a")).await.unwrap().status, 200);
    // The IPv4-mapped form of an opened address is open too (it is that address).
    let mapped = format!("http://[::ffff:127.0.0.1]:{port}/b");
    assert_eq!(get(&open, &mapped).await.unwrap().status, 200);
    assert_refused(&open, &format!("http://127.0.0.2:{}/", canary.port())).await;
    assert_refused(&open, &format!("http://[::1]:{port}/")).await;
    assert_refused(&open, "http://10.0.0.1/").await;

    let wider = guarded(&["127.0.0.0/31"]);
    assert_eq!(get(&wider, &server.url("/c")).await.unwrap().status, 200);
    assert_refused(&wider, &format!("http://127.0.0.2:{}/", canary.port())).await;

    assert_eq!(server.requests().len(), 3);
    canary.assert_untouched().await;
}

#[tokio::test]
async fn an_address_and_port_opens_that_port_only() {
    let server = Server::start(|_, _| Reply::status(200)).await;
    let canary = Canary::bind("127.0.0.1:0").await.unwrap();
    let client = guarded(&[&server.addr.to_string()]);
    assert_eq!(get(&client, &server.url("/")).await.unwrap().status, 200);
    assert_refused(&client, &format!("http://127.0.0.1:{}/", canary.port())).await;
    // A resolved name's port is not known where names are checked: an
    // address-and-port entry does not open a name.
    let port = server.addr.port();
    assert_refused(&client, &format!("http://localhost:{port}/")).await;
    assert_eq!(server.requests().len(), 1);
    canary.assert_untouched().await;
}

#[tokio::test]
async fn a_host_entry_opens_that_name_and_not_its_address() {
    let server = Server::start(|_, _| Reply::status(200)).await;
    let port = server.addr.port();
    let client = guarded(&["localhost"]);
    let answer = get(&client, &format!("http://localhost:{port}/named"))
        .await
        .unwrap();
    assert_eq!(answer.status, 200);
    assert_refused(&client, &server.url("/literal")).await;

    let pattern = guarded(&["*.localhost"]);
    assert_refused(&pattern, &format!("http://localhost:{port}/")).await;
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn redirects_are_never_followed() {
    let canary = Canary::bind("127.0.0.2:0").await.unwrap();
    let canary_local = Canary::bind("127.0.0.1:0").await.unwrap();
    let targets = [
        format!("http://127.0.0.2:{}/metadata", canary.port()),
        format!("http://127.0.0.1:{}/admin", canary_local.port()),
    ];
    let redirector = {
        let targets = targets.clone();
        Server::start(move |request, _| {
            let index = usize::from(request.path() == "/second");
            Reply::status(302).header("Location", &targets[index])
        })
        .await
    };
    // The redirecting host is open; where it points is not. With any guard, even
    // none, a 3xx is the answer and the Location is never fetched.
    for client in [
        guarded(&[&redirector.addr.to_string()]),
        client(Arc::new(AllowAll)),
    ] {
        for path in ["/first", "/second"] {
            let error = get(&client, &redirector.url(path)).await.unwrap_err();
            assert!(
                matches!(error, Error::Status { status: 302, .. }),
                "{path}: {error}"
            );
            let mut request = Request::new(Method::GET, redirector.url(path));
            request.expect = vec![302];
            let answer = client.send(&request).await.unwrap();
            assert_eq!(answer.status, 302);
            let location = answer
                .headers
                .iter()
                .find(|(name, _)| name == "location")
                .map(|(_, value)| value.clone());
            assert!(location.is_some_and(|location| targets.contains(&location)));
        }
    }
    assert_eq!(redirector.requests().len(), 8);
    canary.assert_untouched().await;
    canary_local.assert_untouched().await;
}

#[tokio::test]
async fn public_addresses_pass_the_guard() {
    // No connection is made here: the guard is asked directly.
    let guard = PrivateNetworkGuard::default();
    for (host, ip) in [
        ("example.com", "93.184.215.14"),
        ("one.one.one.one", "1.1.1.1"),
        ("[2606:4700:4700::1111]", "2606:4700:4700::1111"),
        ("[::ffff:8.8.8.8]", "::ffff:8.8.8.8"),
    ] {
        let ip: IpAddr = ip.parse().unwrap();
        assert_eq!(guard.check(host, ip, Some(443)), Ok(()), "{host}");
        assert_eq!(guard.check(host, ip, None), Ok(()), "{host}");
    }
}
