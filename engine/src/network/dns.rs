//! The embedded DNS of user-defined networks: one small responder process per network
//! (as podman's aardvark-dns), listening on the network's gateway address, port 53/udp.
//!
//! It answers containers' names, short IDs, hostnames and network aliases from the store's
//! network records (re-read for each query, so a container that joins later resolves at
//! once), scoped to the networks the asking container (known by its source address) is on.
//! Other names go to the upstream resolvers (the container's `--dns`, `[network]
//! dns_upstream`, or the host's resolv.conf without loopback ones); internal networks do not
//! forward. Started by the engine when a container joins the network and no responder runs
//! (a lock file says so); it exits once the network has no endpoint.

use super::store::{self, NetworkRecord};
use super::NetworkError;
use crate::store::fsutil::FileLock;
use crate::store::Store;
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Docker's TTL for container records.
const TTL: u32 = 600;

fn lock_path(store: &Store, net: &NetworkRecord) -> PathBuf {
    store::runtime_dir(store)
        .join("dns")
        .join(format!("{}.lock", &net.id[..12]))
}

/// Starts the network's responder unless one runs.
pub fn ensure_responder(
    store: &Store,
    shim_binary: &Path,
    net: &NetworkRecord,
) -> Result<(), NetworkError> {
    let p = lock_path(store, net);
    match FileLock::try_exclusive(&p) {
        Ok(None) => return Ok(()), // held: a responder runs
        Ok(Some(l)) => drop(l),
        Err(e) => {
            return Err(NetworkError::Io(format!(
                "cannot lock {}: {e}",
                p.display()
            )))
        }
    }
    super::spawn_helper(store, shim_binary, "dns", &net.name).map(|_| ())
}

/// The names we answer, looked up for one query: addresses for `name` as seen by `asker`.
pub fn resolve(all: &[NetworkRecord], net: &str, asker: Ipv4Addr, name: &str) -> Vec<Ipv4Addr> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let Some(here) = all.iter().find(|r| r.name == net) else {
        return vec![];
    };
    let asker_id = here
        .endpoints
        .iter()
        .find(|(_, e)| e.ip == asker)
        .map(|(id, _)| id.clone());
    // This network first, then the asker's other user-defined networks.
    let mut scope: Vec<&NetworkRecord> = vec![here];
    if let Some(aid) = &asker_id {
        scope.extend(
            all.iter()
                .filter(|r| r.name != net && !r.is_default() && r.endpoints.contains_key(aid)),
        );
    }
    for r in scope {
        let mut hits: Vec<Ipv4Addr> = r
            .endpoints
            .values()
            .filter(|e| e.dns_names.iter().any(|n| n.eq_ignore_ascii_case(&name)))
            .map(|e| e.ip)
            .collect();
        if !hits.is_empty() {
            hits.sort();
            return hits;
        }
    }
    vec![]
}

/// The container name for a reverse lookup of `ip`, within the asker's scope.
fn reverse(all: &[NetworkRecord], net: &str, ip: Ipv4Addr) -> Option<String> {
    all.iter()
        .filter(|r| r.name == net)
        .flat_map(|r| r.endpoints.values())
        .find(|e| e.ip == ip)
        .map(|e| e.container_name.clone())
}

fn ptr_to_ip(name: &str) -> Option<Ipv4Addr> {
    let rest = name
        .trim_end_matches('.')
        .to_ascii_lowercase()
        .strip_suffix(".in-addr.arpa")?
        .to_string();
    let o: Vec<u8> = rest.split('.').filter_map(|x| x.parse().ok()).collect();
    (o.len() == 4).then(|| Ipv4Addr::new(o[3], o[2], o[1], o[0]))
}

/// Builds the answer for a query we serve ourselves; `None`: forward it upstream.
pub fn answer(all: &[NetworkRecord], net: &str, asker: Ipv4Addr, query: &[u8]) -> Option<Vec<u8>> {
    let msg = Message::from_vec(query).ok()?;
    let q = msg.queries().first()?.clone();
    let qname = q.name().to_ascii();
    let mut resp = Message::new();
    resp.set_id(msg.id())
        .set_message_type(MessageType::Response)
        .set_op_code(msg.op_code())
        .set_recursion_desired(msg.recursion_desired())
        .set_recursion_available(true)
        .add_query(q.clone());
    if let Some(ip) = ptr_to_ip(&qname) {
        let name = reverse(all, net, ip)?;
        if q.query_type() == RecordType::PTR {
            let target = Name::from_ascii(format!("{name}.")).ok()?;
            resp.set_authoritative(true);
            resp.add_answer(Record::from_rdata(
                q.name().clone(),
                TTL,
                RData::PTR(PTR(target)),
            ));
        }
        return resp.to_vec().ok();
    }
    let ips = resolve(all, net, asker, &qname);
    if ips.is_empty() {
        return None;
    }
    resp.set_authoritative(true);
    if q.query_type() == RecordType::A || q.query_type() == RecordType::ANY {
        for ip in ips {
            resp.add_answer(Record::from_rdata(q.name().clone(), TTL, RData::A(A(ip))));
        }
    }
    // AAAA and others of a name we own: no data, not NXDOMAIN (IPv4-only networks).
    resp.to_vec().ok()
}

fn failure(query: &[u8], code: ResponseCode) -> Option<Vec<u8>> {
    let msg = Message::from_vec(query).ok()?;
    let mut resp = Message::error_msg(msg.id(), msg.op_code(), code);
    resp.set_recursion_desired(msg.recursion_desired())
        .set_recursion_available(true);
    if let Some(q) = msg.queries().first() {
        resp.add_query(q.clone());
    }
    resp.to_vec().ok()
}

/// Sends the query to each upstream in turn: the first reply, else SERVFAIL.
fn ask_upstream(query: &[u8], upstreams: &[String]) -> Option<Vec<u8>> {
    for u in upstreams {
        let Ok(ip) = u.parse::<IpAddr>() else {
            continue;
        };
        let bind = SocketAddr::new(
            if ip.is_ipv4() {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            } else {
                IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
            },
            0,
        );
        let Ok(up) = UdpSocket::bind(bind) else {
            continue;
        };
        let _ = up.set_read_timeout(Some(Duration::from_secs(3)));
        // Connected: an unreachable upstream fails at once (ICMP) instead of timing out.
        if up.connect((ip, 53)).is_err() || up.send(query).is_err() {
            continue;
        }
        let mut buf = vec![0u8; 65535];
        if let Ok(n) = up.recv(&mut buf) {
            buf.truncate(n);
            return Some(buf);
        }
    }
    failure(query, ResponseCode::ServFail)
}

/// What to do with a query: our answer, or the upstreams to ask.
enum Decision {
    Reply(Vec<u8>),
    Forward(Vec<String>),
}

fn decide(
    all: &[NetworkRecord],
    net: &str,
    asker: Ipv4Addr,
    query: &[u8],
    host_upstreams: &[String],
) -> Option<Decision> {
    if let Some(reply) = answer(all, net, asker, query) {
        return Some(Decision::Reply(reply));
    }
    let here = all.iter().find(|r| r.name == net);
    let internal = here.is_some_and(|r| r.internal);
    let own = here
        .and_then(|r| r.endpoints.values().find(|e| e.ip == asker))
        .map(|e| e.dns_servers.clone())
        .unwrap_or_default();
    let upstreams = if own.is_empty() {
        host_upstreams.to_vec()
    } else {
        own
    };
    // A single-label name that is not ours has no answer upstream either.
    let single_label = Message::from_vec(query)
        .ok()
        .and_then(|m| m.queries().first().map(|q| q.name().num_labels() <= 1))
        .unwrap_or(false);
    if internal || upstreams.is_empty() || single_label {
        return failure(query, ResponseCode::NXDomain).map(Decision::Reply);
    }
    Some(Decision::Forward(upstreams))
}

/// Over UDP an answer larger than 512 bytes (no EDNS) is truncated: the client retries on TCP.
fn fit_udp(query: &[u8], reply: Vec<u8>) -> Vec<u8> {
    let limit = Message::from_vec(query)
        .ok()
        .and_then(|m| m.extensions().as_ref().map(|e| e.max_payload() as usize))
        .unwrap_or(512)
        .max(512);
    if reply.len() <= limit {
        return reply;
    }
    Message::from_vec(&reply)
        .ok()
        .and_then(|m| m.truncate().to_vec().ok())
        .unwrap_or(reply)
}

/// DNS over TCP (2-byte length prefix), one thread per connection.
fn serve_tcp(listener: std::net::TcpListener, store: Store, net: String, upstreams: Vec<String>) {
    for conn in listener.incoming() {
        let Ok(mut c) = conn else {
            continue;
        };
        let (store, net, upstreams) = (store.clone(), net.clone(), upstreams.clone());
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            let asker = match c.peer_addr().map(|a| a.ip()) {
                Ok(IpAddr::V4(v)) => v,
                _ => return,
            };
            let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
            loop {
                let mut len = [0u8; 2];
                if c.read_exact(&mut len).is_err() {
                    return;
                }
                let mut query = vec![0u8; u16::from_be_bytes(len) as usize];
                if c.read_exact(&mut query).is_err() {
                    return;
                }
                let all = store::load_all(&store).unwrap_or_default();
                let reply = match decide(&all, &net, asker, &query, &upstreams) {
                    Some(Decision::Reply(r)) => Some(r),
                    Some(Decision::Forward(u)) => ask_upstream(&query, &u),
                    None => None,
                };
                let Some(reply) = reply else {
                    return;
                };
                let mut out = (reply.len() as u16).to_be_bytes().to_vec();
                out.extend_from_slice(&reply);
                if c.write_all(&out).is_err() {
                    return;
                }
            }
        });
    }
}

/// `rdesk shim dns --root R --runroot RR NETWORK`
pub fn main(args: &[String]) -> i32 {
    let (root, runroot, name) = match super::helper_args(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("rdesk dns: {e}");
            return 2;
        }
    };
    if !super::daemonize() {
        return 0;
    }
    match serve(&root, &runroot, &name) {
        Ok(()) => 0,
        Err(e) => {
            super::report(&format!("error {e}"));
            1
        }
    }
}

fn serve(root: &Path, runroot: &Path, name: &str) -> Result<(), String> {
    let store = Store::open(root, runroot).map_err(|e| e.to_string())?;
    let all = store::load_all(&store).map_err(|e| e.to_string())?;
    let net = store::find(&all, name).map_err(|e| e.to_string())?.clone();
    let lock = match FileLock::try_exclusive(&lock_path(&store, &net)) {
        Ok(Some(l)) => l,
        Ok(None) => {
            super::report("ok 0");
            return Ok(());
        }
        Err(e) => return Err(format!("cannot lock: {e}")),
    };
    // A responder of a network that just lost its bridge (this store's or another's with
    // the same subnet) may still hold the address for up to its idle period: retry a moment.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let (sock, tcp) = loop {
        let bound = UdpSocket::bind((net.gateway, 53))
            .and_then(|u| std::net::TcpListener::bind((net.gateway, 53)).map(|t| (u, t)));
        match bound {
            Ok(pair) => break pair,
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => {
                return Err(format!(
                    "the DNS responder of network {} cannot listen on {}:53: {e}",
                    net.name, net.gateway
                ))
            }
        }
    };
    let _ = sock.set_read_timeout(Some(Duration::from_secs(1)));
    super::report(&format!("ok {}", std::process::id()));
    let cfg = super::NetworkConfig::load();
    let host_upstreams = super::upstream_servers(&cfg);
    {
        let (store, name, up) = (store.clone(), net.name.clone(), host_upstreams.clone());
        std::thread::spawn(move || serve_tcp(tcp, store, name, up));
    }
    let mut buf = vec![0u8; 4096];
    loop {
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                let query = buf[..n].to_vec();
                let asker = match from.ip() {
                    IpAddr::V4(v) => v,
                    _ => continue,
                };
                let all = store::load_all(&store).unwrap_or_default();
                match decide(&all, &net.name, asker, &query, &host_upstreams) {
                    Some(Decision::Reply(r)) => {
                        let _ = sock.send_to(&fit_udp(&query, r), from);
                    }
                    Some(Decision::Forward(upstreams)) => {
                        if let Ok(s) = sock.try_clone() {
                            std::thread::spawn(move || {
                                if let Some(r) = ask_upstream(&query, &upstreams) {
                                    let _ = s.send_to(&r, from);
                                }
                            });
                        }
                    }
                    None => {}
                }
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                // Idle: exit once the network has no endpoint (checked under the networks
                // lock, so a container joining now either is seen or starts a new responder).
                // A store that vanished (its lock cannot be taken) has nothing to serve.
                let Ok(_l) = store::lock(&store) else {
                    return Ok(());
                };
                let all = store::load_all(&store).unwrap_or_default();
                let bridge_up = super::netlink::Netlink::open()
                    .and_then(|mut nl| nl.link_index(&net.bridge))
                    .map(|i| i.is_some())
                    .unwrap_or(true);
                let gone = !bridge_up
                    || all
                        .iter()
                        .find(|r| r.id == net.id)
                        .is_none_or(|r| r.endpoints.is_empty() || r.gateway != net.gateway);
                if gone {
                    drop(sock);
                    drop(lock);
                    return Ok(());
                }
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::store::Endpoint;

    fn ep(name: &str, ip: [u8; 4], aliases: &[&str]) -> Endpoint {
        let mut dns_names = vec![name.to_string()];
        dns_names.extend(aliases.iter().map(|s| s.to_string()));
        Endpoint {
            container_name: name.into(),
            endpoint_id: "e".into(),
            ip: Ipv4Addr::from(ip),
            mac: String::new(),
            aliases: aliases.iter().map(|s| s.to_string()).collect(),
            dns_names,
            veth: String::new(),
            dns_servers: vec![],
        }
    }

    fn net(name: &str, eps: Vec<(&str, Endpoint)>) -> NetworkRecord {
        NetworkRecord {
            name: name.into(),
            id: format!("{name:0>64}"),
            created: String::new(),
            subnet: "10.0.0.0/24".into(),
            gateway: Ipv4Addr::new(10, 0, 0, 1),
            ip_range: None,
            internal: false,
            user_subnet: false,
            labels: Default::default(),
            options: Default::default(),
            bridge: String::new(),
            last_ip: None,
            endpoints: eps.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        }
    }

    #[test]
    fn answers_are_scoped_to_the_askers_networks() {
        let all = vec![
            net(
                "a",
                vec![
                    ("1", ep("db", [10, 0, 0, 2], &["mysql"])),
                    ("2", ep("web", [10, 0, 0, 3], &[])),
                ],
            ),
            net("b", vec![("3", ep("other", [10, 1, 0, 2], &[]))]),
        ];
        assert_eq!(
            resolve(&all, "a", Ipv4Addr::new(10, 0, 0, 3), "MySQL."),
            vec![Ipv4Addr::new(10, 0, 0, 2)]
        );
        assert!(resolve(&all, "b", Ipv4Addr::new(10, 1, 0, 2), "mysql").is_empty());
        assert!(resolve(&all, "a", Ipv4Addr::new(10, 0, 0, 3), "other").is_empty());

        let mut q = Message::new();
        q.set_id(7)
            .set_recursion_desired(true)
            .add_query(hickory_proto::op::Query::query(
                Name::from_ascii("mysql.").unwrap(),
                RecordType::A,
            ));
        let reply = answer(&all, "a", Ipv4Addr::new(10, 0, 0, 3), &q.to_vec().unwrap()).unwrap();
        let m = Message::from_vec(&reply).unwrap();
        assert_eq!(m.id(), 7);
        assert_eq!(m.answers().len(), 1);
        assert_eq!(
            m.answers()[0].data(),
            &RData::A(A(Ipv4Addr::new(10, 0, 0, 2)))
        );
        // Not ours: forwarded (None).
        let mut q2 = Message::new();
        q2.add_query(hickory_proto::op::Query::query(
            Name::from_ascii("example.org.").unwrap(),
            RecordType::A,
        ));
        assert!(answer(&all, "a", Ipv4Addr::new(10, 0, 0, 3), &q2.to_vec().unwrap()).is_none());
        assert_eq!(
            ptr_to_ip("2.0.0.10.in-addr.arpa."),
            Some(Ipv4Addr::new(10, 0, 0, 2))
        );

        // An alias shared by 60 containers: too big for 512 bytes of UDP, so truncated.
        let many = net(
            "c",
            (0..60u8)
                .map(|i| {
                    let id: &'static str = Box::leak(format!("id{i}").into_boxed_str());
                    (id, ep(&format!("w{i}"), [10, 2, 0, i + 2], &["web"]))
                })
                .collect(),
        );
        let mut q3 = Message::new();
        q3.add_query(hickory_proto::op::Query::query(
            Name::from_ascii("web.").unwrap(),
            RecordType::A,
        ));
        let q3 = q3.to_vec().unwrap();
        let full = answer(
            std::slice::from_ref(&many),
            "c",
            Ipv4Addr::new(10, 2, 0, 2),
            &q3,
        )
        .unwrap();
        assert_eq!(Message::from_vec(&full).unwrap().answers().len(), 60);
        let udp = Message::from_vec(&fit_udp(&q3, full)).unwrap();
        assert!(udp.truncated());
    }
}
