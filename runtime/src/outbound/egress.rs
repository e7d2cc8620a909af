//! The egress guard: which addresses an outbound call may connect to.
//!
//! A workflow engine holds credentials and sits next to internal services, so a
//! URL that a webhook body can influence must not reach the machine's own ports,
//! the private network or the cloud metadata service (server-side request forgery).
//! Every address the client connects to is shown to an [`Egress`] first, and the
//! policy flowc runs with is [`PrivateNetworkGuard`]: public addresses pass, the
//! special-purpose ranges that [`classify`] names are refused unless an [`Allow`]
//! entry opens them.
//!
//! Where the check happens decides whether it can be bypassed, so:
//!
//! - names are resolved by the client's own resolver ([`GuardedResolver`], given
//!   to reqwest as its `dns_resolver`), which checks every resolved address and
//!   hands reqwest exactly the addresses it checked. There is no second lookup, so
//!   a DNS answer that changes between check and connect (rebinding) cannot slip
//!   through, and a name is refused whole when any of its addresses is refused;
//! - URLs that name an IP literal skip DNS, so the client checks them itself
//!   before sending. The `url` crate has already normalised the literal the way
//!   browsers do (`127.1`, `2130706433` and `0x7f000001` are all `127.0.0.1`), and
//!   the decision is taken on that address;
//! - redirects are never followed (a 3xx is the step's answer) and no proxy is
//!   used, so nothing else opens a connection; only `http` and `https` URLs are
//!   sent at all (checked by the client before anything else).
//!
//! An IPv6 address that embeds an IPv4 one and reaches it (IPv4-mapped and
//! IPv4-translated forms, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) is decided on
//! the IPv4 address it embeds, so `::ffff:127.0.0.1` is loopback and
//! `::ffff:169.254.169.254` link-local, while `::ffff:8.8.8.8` is public.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, RwLock};

/// Decides whether the client may connect to `ip`, which `host` named or resolved
/// to. `port` is known for an IP-literal URL; for a resolved name it is `None`,
/// because reqwest asks its resolver for the name alone. `Err` holds the reason
/// shown in `R0111`.
pub trait Egress: Send + Sync + 'static {
    fn check(&self, host: &str, ip: IpAddr, port: Option<u16>) -> Result<(), String>;
}

/// Allows every address: `flowc serve --allow-private-network`, and tests.
#[derive(Clone, Copy, Debug, Default)]
pub struct AllowAll;

impl Egress for AllowAll {
    fn check(&self, _host: &str, _ip: IpAddr, _port: Option<u16>) -> Result<(), String> {
        Ok(())
    }
}

/// The default policy: public addresses pass, every range [`classify`] names is
/// refused unless an [`Allow`] entry opens it.
///
/// Entries can be added after the client is built ([`allow`](Self::allow)): the
/// server learns its own bound address only once it has bound it.
#[derive(Debug, Default)]
pub struct PrivateNetworkGuard {
    allowed: RwLock<Vec<Allow>>,
}

impl PrivateNetworkGuard {
    pub fn new(allowed: impl IntoIterator<Item = Allow>) -> PrivateNetworkGuard {
        PrivateNetworkGuard {
            allowed: RwLock::new(allowed.into_iter().collect()),
        }
    }

    /// Opens one more entry.
    pub fn allow(&self, entry: Allow) {
        let mut allowed = self
            .allowed
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !allowed.contains(&entry) {
            allowed.push(entry);
        }
    }

    /// The entries open now, in the order they were added.
    pub fn allowed(&self) -> Vec<Allow> {
        self.allowed
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn opens(&self, host: &str, ip: IpAddr, port: Option<u16>) -> bool {
        let embedded = embedded_ipv4(ip).map(IpAddr::V4);
        let host = normalise_host(host);
        self.allowed
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .any(|entry| entry.opens(&host, ip, embedded, port))
    }
}

impl Egress for PrivateNetworkGuard {
    fn check(&self, host: &str, ip: IpAddr, port: Option<u16>) -> Result<(), String> {
        let Some(special) = classify(ip) else {
            return Ok(());
        };
        if self.opens(host, ip, port) {
            return Ok(());
        }
        Err(special.reason(ip))
    }
}

/// One allowlist entry: it opens exactly what it names, and nothing else.
///
/// Written (for `--allow-egress`) as a CIDR (`10.20.0.0/16`, `fd00:1::/64`), an
/// address (`10.0.0.7`, `::1`: one address, every port), an address and port
/// (`127.0.0.1:8080`, `[::1]:8080`: that port only, and only for URLs that name
/// the address itself, since a resolved name's port is not known where it is
/// checked), a host name (`vault.internal`: that name, whatever it resolves to)
/// or a domain pattern (`*.corp.example`: every name under it, not
/// `corp.example` itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Allow {
    Net(Net),
    Socket(SocketAddr),
    Host(String),
    /// `*.suffix`, stored as the suffix without `*.`.
    Suffix(String),
}

impl Allow {
    /// Loopback, `127.0.0.0/8` and `::1`: what `flowc run` opens by default,
    /// because a local run calls services on the developer's own machine.
    pub fn loopback() -> [Allow; 2] {
        [Allow::Net(Net::V4_LOOPBACK), Allow::Net(Net::V6_LOOPBACK)]
    }

    /// The entries that keep a server's own listen address reachable: exactly
    /// `addr`, or for an unspecified address (`0.0.0.0`, `::`) the loopback
    /// address with its port, which is how a workflow calls the server it runs in.
    pub fn own_address(addr: SocketAddr) -> Vec<Allow> {
        let port = addr.port();
        match addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => {
                vec![Allow::Socket(SocketAddr::new(
                    Ipv4Addr::LOCALHOST.into(),
                    port,
                ))]
            }
            IpAddr::V6(ip) if ip.is_unspecified() => vec![
                Allow::Socket(SocketAddr::new(Ipv6Addr::LOCALHOST.into(), port)),
                Allow::Socket(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port)),
            ],
            _ => vec![Allow::Socket(addr)],
        }
    }

    fn opens(&self, host: &str, ip: IpAddr, embedded: Option<IpAddr>, port: Option<u16>) -> bool {
        match self {
            Allow::Net(net) => net.contains(ip) || embedded.is_some_and(|ip| net.contains(ip)),
            Allow::Socket(addr) => {
                port == Some(addr.port()) && (addr.ip() == ip || embedded == Some(addr.ip()))
            }
            Allow::Host(name) => host == name,
            Allow::Suffix(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|label| label.len() > 1 && label.ends_with('.')),
        }
    }
}

impl FromStr for Allow {
    type Err = String;

    fn from_str(text: &str) -> Result<Allow, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("an empty egress entry: write a CIDR, an address or a host name".into());
        }
        if text.contains('/') {
            return text.parse().map(Allow::Net);
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(Allow::Net(Net::single(ip)));
        }
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Ok(Allow::Socket(addr));
        }
        if let Some(suffix) = text.strip_prefix("*.") {
            return host_name(suffix, text).map(Allow::Suffix);
        }
        host_name(text, text).map(Allow::Host)
    }
}

impl fmt::Display for Allow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Allow::Net(net) => net.fmt(f),
            Allow::Socket(addr) => addr.fmt(f),
            Allow::Host(name) => f.write_str(name),
            Allow::Suffix(suffix) => write!(f, "*.{suffix}"),
        }
    }
}

/// An IP network: an address with its host bits zero and a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    pub const V4_LOOPBACK: Net = Net {
        addr: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)),
        prefix: 8,
    };
    pub const V6_LOOPBACK: Net = Net {
        addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
        prefix: 128,
    };

    /// The network of `addr`/`prefix`; host bits set are an error, since the
    /// entry would not open what it seems to name.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Net, String> {
        let net = Net { addr, prefix };
        let width = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        if prefix > width {
            return Err(format!(
                "`{addr}/{prefix}`: the prefix length of an IPv{} network is at most {width}",
                if width == 32 { 4 } else { 6 }
            ));
        }
        let base = net.network();
        if base != addr {
            return Err(format!(
                "`{addr}/{prefix}` has host bits set: write `{base}/{prefix}` for the network, \
                 or `{addr}` for the one address"
            ));
        }
        Ok(net)
    }

    /// One address.
    pub fn single(addr: IpAddr) -> Net {
        let prefix = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        Net { addr, prefix }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_eq(
                u128::from(net.to_bits()),
                u128::from(ip.to_bits()),
                32,
                self.prefix,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(net.to_bits(), ip.to_bits(), 128, self.prefix)
            }
            _ => false,
        }
    }

    /// `addr` with the host bits cleared.
    fn network(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(ip) => {
                let bits = ip.to_bits() & mask(32, self.prefix) as u32;
                IpAddr::V4(Ipv4Addr::from_bits(bits))
            }
            IpAddr::V6(ip) => {
                IpAddr::V6(Ipv6Addr::from_bits(ip.to_bits() & mask(128, self.prefix)))
            }
        }
    }
}

impl FromStr for Net {
    type Err = String;

    fn from_str(text: &str) -> Result<Net, String> {
        let (addr, prefix) = text.split_once('/').unwrap_or((text, ""));
        let addr: IpAddr = addr.parse().map_err(|_| {
            format!(
                "`{text}`: `{addr}` is not an IP address (a CIDR is `10.0.0.0/8` or `fd00::/8`)"
            )
        })?;
        if prefix.is_empty() {
            return Ok(Net::single(addr));
        }
        let prefix: u8 = prefix
            .parse()
            .map_err(|_| format!("`{text}`: `{prefix}` is not a prefix length"))?;
        Net::new(addr, prefix)
    }
}

impl fmt::Display for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// What a special-purpose range is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `0.0.0.0/8`: "this network"; connecting to `0.0.0.0` reaches the local host.
    ThisNetwork,
    /// `::`.
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918: `10/8`, `172.16/12`, `192.168/16`.
    Private,
    /// RFC 6598: `100.64/10`, carrier-grade NAT.
    Shared,
    /// `169.254/16` (where cloud metadata services answer), `fe80::/10`.
    LinkLocal,
    /// `fc00::/7` (RFC 4193).
    UniqueLocal,
    /// `fec0::/10`, deprecated but still routed inside some networks.
    SiteLocal,
    /// `224/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// TEST-NET-1/2/3, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// `198.18/15`, `2001:2::/48`.
    Benchmarking,
    /// The rest of the IANA special-purpose registries that are not globally
    /// reachable, and IPv6 outside global unicast `2000::/3`.
    Reserved,
}

/// A special-purpose range an address is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Special {
    pub kind: Kind,
    /// The range as the registry writes it: `127.0.0.0/8`.
    pub range: &'static str,
    /// What the range is, as a noun phrase: `a loopback address`.
    pub what: &'static str,
    /// The IPv4 address an IPv6 form embeds, when the decision was taken on it.
    pub embedded: Option<Ipv4Addr>,
}

impl Special {
    /// The refusal's reason, naming the address, the range and how to open it.
    fn reason(&self, ip: IpAddr) -> String {
        let (range, what) = (self.range, self.what);
        let place = match self.embedded {
            Some(v4) => format!("{ip} embeds {v4}, which is in {range}: {what}"),
            None => format!("{ip} is in {range}: {what}"),
        };
        format!("{place}; only public addresses are called unless the egress allowlist opens it")
    }
}

/// The special-purpose range `ip` is in, or `None` for a public address.
///
/// IPv4 (IANA IPv4 Special-Purpose Address Registry): `0.0.0.0/8`, `10.0.0.0/8`,
/// `100.64.0.0/10`, `127.0.0.0/8`, `169.254.0.0/16`, `172.16.0.0/12`,
/// `192.0.0.0/24` (IETF protocol assignments), `192.0.2.0/24`,
/// `192.88.99.0/24` (the deprecated 6to4 relay anycast), `192.168.0.0/16`,
/// `198.18.0.0/15`, `198.51.100.0/24`, `203.0.113.0/24`, `224.0.0.0/4`,
/// `255.255.255.255` and `240.0.0.0/4`.
///
/// IPv6: `::`, `::1`; the forms that embed an IPv4 address decided on it
/// (`::ffff:0:0/96`, `::ffff:0:0:0/96`, `64:ff9b::/96`, `2002::/16`);
/// IPv4-compatible `::/96` (deprecated since RFC 4291, refused whole);
/// `64:ff9b:1::/48` (local-use NAT64), `100::/64` (discard), `2001::/32`
/// (Teredo), `2001:2::/48`, `2001:10::/28` and `2001:20::/28` (ORCHID),
/// `2001:db8::/32`, `3fff::/20`, `5f00::/16` (segment routing), `fc00::/7`,
/// `fe80::/10`, `fec0::/10`, `ff00::/8`, and everything outside `2000::/3`.
pub fn classify(ip: IpAddr) -> Option<Special> {
    match ip {
        IpAddr::V4(ip) => classify_v4(ip),
        IpAddr::V6(ip) => classify_v6(ip),
    }
}

/// An IPv4 range: network bits, prefix length, kind, the range as text, and what
/// it is.
type V4Range = (u32, u8, Kind, &'static str, &'static str);
type V6Range = (u128, u8, Kind, &'static str, &'static str);

const fn v4(a: u8, b: u8, c: u8, d: u8) -> u32 {
    u32::from_be_bytes([a, b, c, d])
}

const fn v6(segments: [u16; 8]) -> u128 {
    let mut bits = 0u128;
    let mut index = 0;
    while index < 8 {
        bits = (bits << 16) | segments[index] as u128;
        index += 1;
    }
    bits
}

/// Most specific first: the first range that holds an address decides.
const V4_RANGES: &[V4Range] = &[
    (
        v4(0, 0, 0, 0),
        8,
        Kind::ThisNetwork,
        "0.0.0.0/8",
        "a \"this network\" address",
    ),
    (
        v4(10, 0, 0, 0),
        8,
        Kind::Private,
        "10.0.0.0/8",
        "a private address (RFC 1918)",
    ),
    (
        v4(100, 64, 0, 0),
        10,
        Kind::Shared,
        "100.64.0.0/10",
        "a shared address (RFC 6598, carrier-grade NAT)",
    ),
    (
        v4(127, 0, 0, 0),
        8,
        Kind::Loopback,
        "127.0.0.0/8",
        "a loopback address",
    ),
    (
        v4(169, 254, 0, 0),
        16,
        Kind::LinkLocal,
        "169.254.0.0/16",
        "a link-local address (where cloud metadata services answer)",
    ),
    (
        v4(172, 16, 0, 0),
        12,
        Kind::Private,
        "172.16.0.0/12",
        "a private address (RFC 1918)",
    ),
    (
        v4(192, 0, 0, 0),
        24,
        Kind::Reserved,
        "192.0.0.0/24",
        "a reserved address (IETF protocol assignments)",
    ),
    (
        v4(192, 0, 2, 0),
        24,
        Kind::Documentation,
        "192.0.2.0/24",
        "a documentation address",
    ),
    (
        v4(192, 88, 99, 0),
        24,
        Kind::Reserved,
        "192.88.99.0/24",
        "a reserved address (the deprecated 6to4 relay anycast)",
    ),
    (
        v4(192, 168, 0, 0),
        16,
        Kind::Private,
        "192.168.0.0/16",
        "a private address (RFC 1918)",
    ),
    (
        v4(198, 18, 0, 0),
        15,
        Kind::Benchmarking,
        "198.18.0.0/15",
        "a benchmarking address",
    ),
    (
        v4(198, 51, 100, 0),
        24,
        Kind::Documentation,
        "198.51.100.0/24",
        "a documentation address",
    ),
    (
        v4(203, 0, 113, 0),
        24,
        Kind::Documentation,
        "203.0.113.0/24",
        "a documentation address",
    ),
    (
        v4(224, 0, 0, 0),
        4,
        Kind::Multicast,
        "224.0.0.0/4",
        "a multicast address",
    ),
    (
        v4(255, 255, 255, 255),
        32,
        Kind::Broadcast,
        "255.255.255.255/32",
        "the broadcast address",
    ),
    (
        v4(240, 0, 0, 0),
        4,
        Kind::Reserved,
        "240.0.0.0/4",
        "a reserved address (future use)",
    ),
];

/// Checked after `::`, `::1` and the forms that embed an IPv4 address.
const V6_RANGES: &[V6Range] = &[
    (
        0,
        96,
        Kind::Reserved,
        "::/96",
        "an IPv4-compatible address (deprecated, RFC 4291)",
    ),
    (
        v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0]),
        48,
        Kind::Reserved,
        "64:ff9b:1::/48",
        "a local-use NAT64 address (RFC 8215)",
    ),
    (
        v6([0x100, 0, 0, 0, 0, 0, 0, 0]),
        64,
        Kind::Reserved,
        "100::/64",
        "a discard-only address (RFC 6666)",
    ),
    (
        v6([0x2001, 0, 0, 0, 0, 0, 0, 0]),
        32,
        Kind::Reserved,
        "2001::/32",
        "a Teredo tunnel address",
    ),
    (
        v6([0x2001, 2, 0, 0, 0, 0, 0, 0]),
        48,
        Kind::Benchmarking,
        "2001:2::/48",
        "a benchmarking address",
    ),
    (
        v6([0x2001, 0x10, 0, 0, 0, 0, 0, 0]),
        28,
        Kind::Reserved,
        "2001:10::/28",
        "a deprecated ORCHID address",
    ),
    (
        v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0]),
        28,
        Kind::Reserved,
        "2001:20::/28",
        "an ORCHIDv2 address (not routed)",
    ),
    (
        v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0]),
        32,
        Kind::Documentation,
        "2001:db8::/32",
        "a documentation address",
    ),
    (
        v6([0x3fff, 0, 0, 0, 0, 0, 0, 0]),
        20,
        Kind::Documentation,
        "3fff::/20",
        "a documentation address",
    ),
    (
        v6([0x5f00, 0, 0, 0, 0, 0, 0, 0]),
        16,
        Kind::Reserved,
        "5f00::/16",
        "a segment routing address (RFC 9602, not routed)",
    ),
    (
        v6([0xfc00, 0, 0, 0, 0, 0, 0, 0]),
        7,
        Kind::UniqueLocal,
        "fc00::/7",
        "a unique local address (RFC 4193)",
    ),
    (
        v6([0xfe80, 0, 0, 0, 0, 0, 0, 0]),
        10,
        Kind::LinkLocal,
        "fe80::/10",
        "a link-local address",
    ),
    (
        v6([0xfec0, 0, 0, 0, 0, 0, 0, 0]),
        10,
        Kind::SiteLocal,
        "fec0::/10",
        "a site-local address (deprecated)",
    ),
    (
        v6([0xff00, 0, 0, 0, 0, 0, 0, 0]),
        8,
        Kind::Multicast,
        "ff00::/8",
        "a multicast address",
    ),
];

fn classify_v4(ip: Ipv4Addr) -> Option<Special> {
    let bits = u128::from(ip.to_bits());
    V4_RANGES
        .iter()
        .find(|(net, prefix, ..)| prefix_eq(u128::from(*net), bits, 32, *prefix))
        .map(|&(_, _, kind, range, what)| Special {
            kind,
            range,
            what,
            embedded: None,
        })
}

fn classify_v6(ip: Ipv6Addr) -> Option<Special> {
    if ip.is_unspecified() {
        return Some(Special {
            kind: Kind::Unspecified,
            range: "::/128",
            what: "the unspecified address",
            embedded: None,
        });
    }
    if ip.is_loopback() {
        return Some(Special {
            kind: Kind::Loopback,
            range: "::1/128",
            what: "a loopback address",
            embedded: None,
        });
    }
    if let Some(v4) = embedded_ipv4(IpAddr::V6(ip)) {
        return classify_v4(v4).map(|special| Special {
            embedded: Some(v4),
            ..special
        });
    }
    let bits = ip.to_bits();
    let listed = V6_RANGES
        .iter()
        .find(|(net, prefix, ..)| prefix_eq(*net, bits, 128, *prefix));
    match listed {
        Some(&(_, _, kind, range, what)) => Some(Special {
            kind,
            range,
            what,
            embedded: None,
        }),
        // Global unicast is public once the ranges above are taken out of it.
        None if prefix_eq(v6([0x2000, 0, 0, 0, 0, 0, 0, 0]), bits, 128, 3) => None,
        None => Some(Special {
            kind: Kind::Reserved,
            range: "outside 2000::/3",
            what: "an address outside IPv6 global unicast",
            embedded: None,
        }),
    }
}

/// The IPv4 address an IPv6 address embeds and reaches: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-translated (`::ffff:0:a.b.c.d`), NAT64
/// (`64:ff9b::a.b.c.d`) and 6to4 (`2002:AABB:CCDD::/48`, the relay's address).
fn embedded_ipv4(ip: IpAddr) -> Option<Ipv4Addr> {
    let IpAddr::V6(ip) = ip else {
        return None;
    };
    let bits = ip.to_bits();
    let low = Ipv4Addr::from_bits(bits as u32);
    let forms: [(u128, u8); 3] = [
        (v6([0, 0, 0, 0, 0, 0xffff, 0, 0]), 96),
        (v6([0, 0, 0, 0, 0xffff, 0, 0, 0]), 96),
        (v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0]), 96),
    ];
    if forms
        .iter()
        .any(|(net, prefix)| prefix_eq(*net, bits, 128, *prefix))
    {
        return Some(low);
    }
    if prefix_eq(v6([0x2002, 0, 0, 0, 0, 0, 0, 0]), bits, 128, 16) {
        return Some(Ipv4Addr::from_bits((bits >> 80) as u32));
    }
    None
}

/// Whether `a` and `b`, numbers `width` bits wide, agree on their first `prefix`
/// bits.
fn prefix_eq(a: u128, b: u128, width: u8, prefix: u8) -> bool {
    let mask = mask(width, prefix);
    a & mask == b & mask
}

/// The first `prefix` of `width` bits set.
fn mask(width: u8, prefix: u8) -> u128 {
    let prefix = prefix.min(width);
    if prefix == 0 {
        return 0;
    }
    let ones = u128::MAX << (128 - u32::from(prefix));
    ones >> (128 - u32::from(width))
}

/// A host as entries and the resolver compare it: lower case, no trailing dot.
fn normalise_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// Checks a host name of an entry (`written` is the whole entry, for messages).
fn host_name(name: &str, written: &str) -> Result<String, String> {
    let name = normalise_host(name);
    if name.is_empty() || name.len() > 253 {
        return Err(format!("`{written}` is not a host name"));
    }
    if !name.is_ascii() {
        return Err(format!(
            "`{written}`: write an internationalised name in its `xn--` form"
        ));
    }
    for label in name.split('.') {
        let valid = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
        if !valid {
            return Err(format!(
                "`{written}` is not a CIDR, an address or a host name (`api.internal`, \
                 `*.corp.example`)"
            ));
        }
    }
    // A URL whose host ends in a number is an IPv4 address in some form (`127.1`,
    // `0x7f.1`): a host entry for it would never match.
    let last = name.rsplit('.').next().unwrap_or("");
    let numeric = last.bytes().all(|byte| byte.is_ascii_digit())
        || last
            .strip_prefix("0x")
            .is_some_and(|hex| hex.bytes().all(|byte| byte.is_ascii_hexdigit()));
    if numeric {
        return Err(format!(
            "`{written}` reads as an IPv4 address in a short form: write it as `a.b.c.d` \
             or a CIDR"
        ));
    }
    Ok(name)
}

/// A refusal inside reqwest's error chain; the client turns it into `R0111`.
#[derive(Debug, thiserror::Error)]
#[error("refused to connect to `{host}` at {ip}: {reason}")]
pub(crate) struct Refused {
    pub host: String,
    pub ip: IpAddr,
    pub reason: String,
}

/// reqwest's resolver: the system's lookup, then the guard on every address. A
/// name is refused whole when any of its addresses is refused.
pub(crate) struct GuardedResolver {
    pub egress: Arc<dyn Egress>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let egress = Arc::clone(&self.egress);
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            for addr in &addrs {
                if let Err(reason) = egress.check(&host, addr.ip(), None) {
                    let refused: Box<dyn std::error::Error + Send + Sync> = Box::new(Refused {
                        host: host.clone(),
                        ip: addr.ip(),
                        reason,
                    });
                    return Err(refused);
                }
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse()
            .unwrap_or_else(|_| panic!("`{text}` is not an address"))
    }

    /// Every row: the address, then its kind and range, or `None` for public.
    #[test]
    fn classification_table() {
        use Kind::*;
        let rows: &[(&str, Option<(Kind, &str)>)] = &[
            // IPv4.
            ("0.0.0.0", Some((ThisNetwork, "0.0.0.0/8"))),
            ("0.255.255.255", Some((ThisNetwork, "0.0.0.0/8"))),
            ("1.1.1.1", None),
            ("9.255.255.255", None),
            ("10.0.0.1", Some((Private, "10.0.0.0/8"))),
            ("10.255.255.255", Some((Private, "10.0.0.0/8"))),
            ("11.0.0.0", None),
            ("100.63.255.255", None),
            ("100.64.0.1", Some((Shared, "100.64.0.0/10"))),
            ("100.127.255.255", Some((Shared, "100.64.0.0/10"))),
            ("100.128.0.0", None),
            ("127.0.0.1", Some((Loopback, "127.0.0.0/8"))),
            ("127.255.255.254", Some((Loopback, "127.0.0.0/8"))),
            ("169.254.169.254", Some((LinkLocal, "169.254.0.0/16"))),
            ("169.255.0.1", None),
            ("172.15.255.255", None),
            ("172.16.0.1", Some((Private, "172.16.0.0/12"))),
            ("172.31.255.255", Some((Private, "172.16.0.0/12"))),
            ("172.32.0.0", None),
            ("192.0.0.8", Some((Reserved, "192.0.0.0/24"))),
            ("192.0.2.1", Some((Documentation, "192.0.2.0/24"))),
            ("192.0.3.1", None),
            ("192.88.99.1", Some((Reserved, "192.88.99.0/24"))),
            ("192.168.1.1", Some((Private, "192.168.0.0/16"))),
            ("192.169.0.1", None),
            ("198.17.255.255", None),
            ("198.18.0.1", Some((Benchmarking, "198.18.0.0/15"))),
            ("198.19.255.255", Some((Benchmarking, "198.18.0.0/15"))),
            ("198.20.0.0", None),
            ("198.51.100.7", Some((Documentation, "198.51.100.0/24"))),
            ("203.0.113.9", Some((Documentation, "203.0.113.0/24"))),
            ("223.255.255.255", None),
            ("224.0.0.1", Some((Multicast, "224.0.0.0/4"))),
            ("239.255.255.250", Some((Multicast, "224.0.0.0/4"))),
            ("240.0.0.1", Some((Reserved, "240.0.0.0/4"))),
            ("255.255.255.254", Some((Reserved, "240.0.0.0/4"))),
            ("255.255.255.255", Some((Broadcast, "255.255.255.255/32"))),
            ("8.8.8.8", None),
            // IPv6.
            ("::", Some((Unspecified, "::/128"))),
            ("::1", Some((Loopback, "::1/128"))),
            ("::2", Some((Reserved, "::/96"))),
            ("::127.0.0.1", Some((Reserved, "::/96"))),
            ("::8.8.8.8", Some((Reserved, "::/96"))),
            ("::ffff:127.0.0.1", Some((Loopback, "127.0.0.0/8"))),
            (
                "::ffff:169.254.169.254",
                Some((LinkLocal, "169.254.0.0/16")),
            ),
            ("::ffff:10.1.2.3", Some((Private, "10.0.0.0/8"))),
            ("::ffff:0.0.0.0", Some((ThisNetwork, "0.0.0.0/8"))),
            ("::ffff:8.8.8.8", None),
            ("::ffff:0:127.0.0.1", Some((Loopback, "127.0.0.0/8"))),
            ("::ffff:0:8.8.8.8", None),
            ("64:ff9b::127.0.0.1", Some((Loopback, "127.0.0.0/8"))),
            ("64:ff9b::a9fe:a9fe", Some((LinkLocal, "169.254.0.0/16"))),
            ("64:ff9b::8.8.8.8", None),
            ("64:ff9b:1::1", Some((Reserved, "64:ff9b:1::/48"))),
            ("100::1", Some((Reserved, "100::/64"))),
            ("2001::1", Some((Reserved, "2001::/32"))),
            ("2001:2::1", Some((Benchmarking, "2001:2::/48"))),
            ("2001:20::1", Some((Reserved, "2001:20::/28"))),
            ("2001:db8::1", Some((Documentation, "2001:db8::/32"))),
            ("2002:7f00:1::1", Some((Loopback, "127.0.0.0/8"))),
            ("2002:c0a8:101::", Some((Private, "192.168.0.0/16"))),
            ("2002:808:808::1", None),
            ("3fff::1", Some((Documentation, "3fff::/20"))),
            ("5f00::1", Some((Reserved, "5f00::/16"))),
            ("2606:4700:4700::1111", None),
            ("2a00:1450:4001::200e", None),
            ("fc00::1", Some((UniqueLocal, "fc00::/7"))),
            ("fd00::1", Some((UniqueLocal, "fc00::/7"))),
            ("fe80::1", Some((LinkLocal, "fe80::/10"))),
            ("febf::1", Some((LinkLocal, "fe80::/10"))),
            ("fec0::1", Some((SiteLocal, "fec0::/10"))),
            ("ff02::1", Some((Multicast, "ff00::/8"))),
            ("4000::1", Some((Reserved, "outside 2000::/3"))),
            ("1::1", Some((Reserved, "outside 2000::/3"))),
        ];
        for (address, expected) in rows {
            let found = classify(ip(address)).map(|special| (special.kind, special.range));
            assert_eq!(found, *expected, "{address}");
        }
    }

    #[test]
    fn embedded_ipv4_is_named_in_the_reason() {
        let guard = PrivateNetworkGuard::default();
        let reason = guard
            .check("[::ffff:a9fe:a9fe]", ip("::ffff:169.254.169.254"), Some(80))
            .unwrap_err();
        assert!(
            reason.starts_with(
                "::ffff:169.254.169.254 embeds 169.254.169.254, which is in 169.254.0.0/16: \
                 a link-local address"
            ),
            "{reason}"
        );
    }

    #[test]
    fn entries_parse_and_print() {
        let rows = [
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("10.1.2.3", "10.1.2.3/32"),
            ("fd00:1::/64", "fd00:1::/64"),
            ("::1", "::1/128"),
            ("127.0.0.1:8080", "127.0.0.1:8080"),
            ("[::1]:8080", "[::1]:8080"),
            ("Vault.Internal.", "vault.internal"),
            ("*.corp.example", "*.corp.example"),
            (" localhost ", "localhost"),
        ];
        for (written, shown) in rows {
            let entry: Allow = written.parse().unwrap_or_else(|error| panic!("{error}"));
            assert_eq!(entry.to_string(), shown, "{written}");
        }
        for bad in [
            "",
            "10.0.0.1/8",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/x",
            "nope/8",
            "a..b",
            "-",
            "bad host",
            "127.1",
            "0x7f000001",
            "*.",
            "ex ample.com",
            "bücher.example",
            "http://a.example",
        ] {
            assert!(bad.parse::<Allow>().is_err(), "`{bad}` was accepted");
        }
        let host_bits = "10.0.0.1/8".parse::<Allow>().unwrap_err();
        assert!(host_bits.contains("`10.0.0.0/8`"), "{host_bits}");
    }

    #[test]
    fn an_entry_opens_exactly_what_it_names() {
        let allowed = |entry: &str, host: &str, address: &str, port: Option<u16>| {
            let guard = PrivateNetworkGuard::new([entry.parse::<Allow>().unwrap()]);
            guard.check(host, ip(address), port).is_ok()
        };
        // A CIDR: its range, not the neighbour.
        assert!(allowed(
            "10.1.0.0/16",
            "10.1.255.255",
            "10.1.255.255",
            Some(80)
        ));
        assert!(allowed("10.1.0.0/16", "h", "10.1.0.1", None));
        assert!(!allowed("10.1.0.0/16", "10.2.0.0", "10.2.0.0", Some(80)));
        assert!(!allowed(
            "10.1.0.0/16",
            "10.0.255.255",
            "10.0.255.255",
            Some(80)
        ));
        // The IPv4 form of a network opens its IPv4-mapped form too.
        assert!(allowed("10.1.0.0/16", "h", "::ffff:10.1.0.1", None));
        // One address.
        assert!(allowed("127.0.0.1", "127.0.0.1", "127.0.0.1", Some(1)));
        assert!(!allowed("127.0.0.1", "127.0.0.2", "127.0.0.2", Some(1)));
        assert!(!allowed("127.0.0.1", "[::1]", "::1", Some(1)));
        // An address and port: that port, and only when the port is known.
        assert!(allowed(
            "127.0.0.1:8080",
            "127.0.0.1",
            "127.0.0.1",
            Some(8080)
        ));
        assert!(!allowed(
            "127.0.0.1:8080",
            "127.0.0.1",
            "127.0.0.1",
            Some(8081)
        ));
        assert!(!allowed("127.0.0.1:8080", "localhost", "127.0.0.1", None));
        // A host: that name, not another name with the same address.
        assert!(allowed(
            "vault.internal",
            "vault.internal",
            "10.0.0.5",
            None
        ));
        assert!(allowed(
            "vault.internal",
            "VAULT.internal.",
            "10.0.0.5",
            None
        ));
        assert!(!allowed("vault.internal", "db.internal", "10.0.0.5", None));
        assert!(!allowed("vault.internal", "10.0.0.5", "10.0.0.5", Some(80)));
        // A pattern: names under it, not the suffix itself nor a look-alike.
        assert!(allowed(
            "*.corp.example",
            "a.corp.example",
            "10.0.0.5",
            None
        ));
        assert!(allowed(
            "*.corp.example",
            "a.b.corp.example",
            "10.0.0.5",
            None
        ));
        assert!(!allowed("*.corp.example", "corp.example", "10.0.0.5", None));
        assert!(!allowed(
            "*.corp.example",
            "evilcorp.example",
            "10.0.0.5",
            None
        ));
        assert!(!allowed(
            "*.corp.example",
            "a.corp.example.evil",
            "10.0.0.5",
            None
        ));
        // Public addresses need no entry.
        assert!(allowed("10.1.0.0/16", "example.com", "93.184.215.14", None));
    }

    #[test]
    fn own_address_entries() {
        let addr = |text: &str| text.parse::<SocketAddr>().unwrap();
        assert_eq!(
            Allow::own_address(addr("127.0.0.1:8080")),
            [Allow::Socket(addr("127.0.0.1:8080"))]
        );
        assert_eq!(
            Allow::own_address(addr("0.0.0.0:9000")),
            [Allow::Socket(addr("127.0.0.1:9000"))]
        );
        assert_eq!(
            Allow::own_address(addr("[::]:9000")),
            [
                Allow::Socket(addr("[::1]:9000")),
                Allow::Socket(addr("127.0.0.1:9000"))
            ]
        );
    }

    #[test]
    fn masks() {
        assert_eq!(mask(32, 0), 0);
        assert_eq!(mask(32, 8), 0xff00_0000);
        assert_eq!(mask(32, 32), 0xffff_ffff);
        assert_eq!(mask(128, 128), u128::MAX);
        assert_eq!(mask(128, 1), 1 << 127);
    }
}
