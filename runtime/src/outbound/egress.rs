//! The hook the egress guard plugs into: every address the client connects to is
//! shown to an [`Egress`] first.
//!
//! Names are resolved by the client's own resolver ([`GuardedResolver`], given to
//! reqwest as its `dns_resolver`), which checks every resolved address and hands
//! reqwest exactly the addresses it checked: there is no second lookup, so a DNS
//! answer that changes between check and connect (rebinding) cannot slip through.
//! URLs that name an IP literal skip DNS, so the client checks them itself before
//! sending. Redirects are not followed and no proxy is used, so nothing else opens
//! a connection. The policy (which ranges are private, what an allowlist opens) is
//! the trust-boundary issue's; the default here, [`AllowAll`], allows everything.

use std::net::SocketAddr;
use std::sync::Arc;

/// Decides whether the client may connect to `addr`, which `host` named or
/// resolved to. `Err` holds the reason shown in `R0111`.
pub trait Egress: Send + Sync + 'static {
    fn check(&self, host: &str, addr: SocketAddr) -> Result<(), String>;
}

/// Allows every address.
#[derive(Clone, Copy, Debug, Default)]
pub struct AllowAll;

impl Egress for AllowAll {
    fn check(&self, _host: &str, _addr: SocketAddr) -> Result<(), String> {
        Ok(())
    }
}

/// A refusal inside reqwest's error chain; the client turns it into `R0111`.
#[derive(Debug, thiserror::Error)]
#[error("refused to connect to `{host}` at {addr}: {reason}")]
pub(crate) struct Refused {
    pub host: String,
    pub addr: SocketAddr,
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
                if let Err(reason) = egress.check(&host, *addr) {
                    let refused: Box<dyn std::error::Error + Send + Sync> = Box::new(Refused {
                        host: host.clone(),
                        addr: *addr,
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
