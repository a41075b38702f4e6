//! Published ports: a userland forwarder per container (`rdesk shim portproxy`), listening
//! on the host's side (default 0.0.0.0, so 127.0.0.1 works too) and relaying TCP
//! connections and UDP datagrams to the container's address. Chosen over nftables DNAT:
//! reaching a port through 127.0.0.1 with DNAT needs `route_localnet`, which exposed
//! loopback services to the LAN before (CVE-2020-8558); figures in bench/README.md.
//!
//! The engine starts it at container start (a host port already taken fails the start,
//! as Docker's "port is already allocated") and it is stopped by the container's teardown.

use super::store::{self, BoundPort};
use super::NetworkError;
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortRequest {
    /// "" = all IPv4 addresses (0.0.0.0).
    pub host_ip: String,
    /// 0 = any free port.
    pub host_port: u16,
    pub container_port: u16,
    pub proto: String,
}

fn parse_range(s: &str) -> Option<(u16, u16)> {
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (a.parse::<u16>().ok()?, b.parse::<u16>().ok()?);
            (a <= b && a > 0).then_some((a, b))
        }
        None => {
            let p = s.parse::<u16>().ok()?;
            (p > 0).then_some((p, p))
        }
    }
}

/// Parses one `-p` spec: `[ip:][hostPort:]containerPort[/proto]`, ports may be ranges of
/// equal length. Docker's messages for bad ones.
pub fn parse_publish(spec: &str) -> Result<Vec<PortRequest>, String> {
    let (rest, proto) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, p.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    if proto != "tcp" && proto != "udp" {
        return Err(format!("invalid proto: {proto}"));
    }
    // An IPv6 host address is written in brackets.
    let (ip, rest) = if let Some(r) = rest.strip_prefix('[') {
        let (ip, after) = r
            .split_once(']')
            .ok_or_else(|| format!("invalid IP address: [{r}"))?;
        (
            ip.to_string(),
            after.strip_prefix(':').unwrap_or(after).to_string(),
        )
    } else {
        let parts: Vec<&str> = rest.split(':').collect();
        match parts.len() {
            1 | 2 => (String::new(), rest.to_string()),
            3 => (parts[0].to_string(), format!("{}:{}", parts[1], parts[2])),
            _ => return Err(format!("invalid publish spec: {spec}")),
        }
    };
    if !ip.is_empty() && ip.parse::<IpAddr>().is_err() {
        return Err(format!("invalid IP address: {ip}"));
    }
    let (host, container) = match rest.split_once(':') {
        Some((h, c)) => (h.to_string(), c.to_string()),
        None => (String::new(), rest),
    };
    let (c0, c1) =
        parse_range(&container).ok_or_else(|| format!("invalid containerPort: {container}"))?;
    let (h0, h1) = if host.is_empty() || host == "0" {
        (0, 0)
    } else {
        parse_range(&host).ok_or_else(|| format!("invalid hostPort: {host}"))?
    };
    if h0 != 0 && h1 - h0 != c1 - c0 {
        return Err(format!(
            "invalid ranges specified for container and host Ports: {container} and {host}"
        ));
    }
    Ok((c0..=c1)
        .enumerate()
        .map(|(i, c)| PortRequest {
            host_ip: ip.clone(),
            host_port: if h0 == 0 { 0 } else { h0 + i as u16 },
            container_port: c,
            proto: proto.clone(),
        })
        .collect())
}

#[derive(Serialize, Deserialize)]
struct ProxyRequest {
    target: Ipv4Addr,
    ports: Vec<PortRequest>,
}

fn request_path(store: &Store, id: &str) -> std::path::PathBuf {
    store::runtime_dir(store)
        .join("ctr")
        .join(format!("{id}.ports.json"))
}

/// Starts the container's forwarder; returns its PID, start time and the ports as bound.
pub fn start(
    store: &Store,
    shim_binary: &Path,
    id: &str,
    target: Ipv4Addr,
    ports: &[PortRequest],
) -> Result<(i64, u64, Vec<BoundPort>), NetworkError> {
    let req = ProxyRequest {
        target,
        ports: ports.to_vec(),
    };
    let p = request_path(store, id);
    crate::store::fsutil::write_atomic(&p, &serde_json::to_vec(&req).unwrap_or_default())
        .map_err(|e| NetworkError::Io(format!("cannot write {}: {e}", p.display())))?;
    let out = super::spawn_helper(store, shim_binary, "portproxy", id);
    let _ = std::fs::remove_file(&p);
    let out = out?;
    let (pid, json) = out.split_once(' ').unwrap_or((out.as_str(), "[]"));
    let pid: i64 = pid.parse().unwrap_or(0);
    let bound: Vec<BoundPort> = serde_json::from_str(json).unwrap_or_default();
    Ok((pid, crate::container::process_start_time(pid), bound))
}

/// Stops a forwarder (only if `pid` is still the process that was started).
pub fn stop(pid: i64, start_time: u64) {
    if pid <= 0 || start_time == 0 || crate::container::process_start_time(pid) != start_time {
        return;
    }
    // SAFETY: kill(2) of the forwarder we started (its start time matches).
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    // Wait for it so the ports are free as soon as the container is stopped.
    for _ in 0..200 {
        if crate::container::process_start_time(pid) != start_time {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `rdesk shim portproxy --root R --runroot RR ID`
pub fn main(args: &[String]) -> i32 {
    let (root, runroot, id) = match super::helper_args(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("rdesk portproxy: {e}");
            return 2;
        }
    };
    if !super::daemonize() {
        return 0;
    }
    let store = match Store::open(&root, &runroot) {
        Ok(s) => s,
        Err(e) => {
            super::report(&format!("error {e}"));
            return 1;
        }
    };
    let req: ProxyRequest = match std::fs::read(request_path(&store, &id))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
    {
        Some(r) => r,
        None => {
            super::report("error the port forwarding request is missing");
            return 1;
        }
    };
    let mut tcp = Vec::new();
    let mut udp = Vec::new();
    let mut bound = Vec::new();
    for p in &req.ports {
        let ip: IpAddr = if p.host_ip.is_empty() {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            p.host_ip
                .parse()
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        };
        let shown = if p.host_ip.is_empty() {
            "0.0.0.0".to_string()
        } else {
            p.host_ip.clone()
        };
        let taken = |e: std::io::Error| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                format!(
                    "driver failed programming external connectivity on endpoint: Bind for {shown}:{} failed: port is already allocated",
                    p.host_port
                )
            } else {
                format!("cannot listen on {shown}:{}: {e}", p.host_port)
            }
        };
        let addr = SocketAddr::new(ip, p.host_port);
        let target = SocketAddr::new(IpAddr::V4(req.target), p.container_port);
        let port = if p.proto == "udp" {
            match UdpSocket::bind(addr) {
                Ok(s) => {
                    let port = s.local_addr().map(|a| a.port()).unwrap_or(0);
                    udp.push((s, target));
                    port
                }
                Err(e) => {
                    super::report(&format!("error {}", taken(e)));
                    return 1;
                }
            }
        } else {
            match TcpListener::bind(addr) {
                Ok(l) => {
                    let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
                    tcp.push((l, target));
                    port
                }
                Err(e) => {
                    super::report(&format!("error {}", taken(e)));
                    return 1;
                }
            }
        };
        bound.push(BoundPort {
            container_port: p.container_port,
            proto: p.proto.clone(),
            host_ip: shown,
            host_port: port,
        });
    }
    super::report(&format!(
        "ok {} {}",
        std::process::id(),
        serde_json::to_string(&bound).unwrap_or_else(|_| "[]".into())
    ));
    let mut threads = Vec::new();
    if !tcp.is_empty() {
        threads.push(std::thread::spawn(move || serve_tcp(tcp)));
    }
    for (s, target) in udp {
        threads.push(std::thread::spawn(move || serve_udp(s, target)));
    }
    for t in threads {
        let _ = t.join();
    }
    0
}

/// One direction of a forwarded connection: a pipe the bytes move through with splice(2),
/// socket to pipe to socket, never copied to user space.
struct Half {
    pipe_r: std::os::fd::OwnedFd,
    pipe_w: std::os::fd::OwnedFd,
    /// Bytes in the pipe, not yet written on.
    queued: usize,
    eof: bool,
    shut: bool,
}

/// splice(2) without blocking; Ok(None) when it would block.
fn splice(
    from: std::os::fd::RawFd,
    to: std::os::fd::RawFd,
    len: usize,
) -> std::io::Result<Option<usize>> {
    // SAFETY: splice(2) between two descriptors we own, no offsets (NULL), no memory passed.
    let n = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_NONBLOCK | libc::SPLICE_F_MOVE,
        )
    };
    if n >= 0 {
        return Ok(Some(n as usize));
    }
    let e = std::io::Error::last_os_error();
    if e.kind() == std::io::ErrorKind::WouldBlock {
        Ok(None)
    } else {
        Err(e)
    }
}

impl Half {
    fn new() -> std::io::Result<Half> {
        let (pipe_r, pipe_w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_CLOEXEC)?;
        // A 1 MiB pipe (the default is 64 KiB): fewer round trips for bulk transfers.
        // SAFETY: fcntl(F_SETPIPE_SZ) on our own pipe; failure just keeps the default size.
        unsafe {
            libc::fcntl(
                std::os::fd::AsRawFd::as_raw_fd(&pipe_w),
                libc::F_SETPIPE_SZ,
                1 << 20,
            )
        };
        Ok(Half {
            pipe_r,
            pipe_w,
            queued: 0,
            eof: false,
            shut: false,
        })
    }
    fn pending(&self) -> bool {
        self.queued > 0
    }
    /// Moves what `from` has into the pipe (while the pipe is empty, or always when
    /// `drain`: its peer hung up), and what `to` takes out of it; half-closes `to` after
    /// the end. Err: the connection is broken.
    fn pump(&mut self, from: &TcpStream, to: &TcpStream, drain: bool) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        while !self.eof && (!self.pending() || drain) {
            match splice(from.as_raw_fd(), self.pipe_w.as_raw_fd(), 1 << 20)? {
                Some(0) => self.eof = true,
                Some(n) => self.queued += n,
                None => break,
            }
        }
        while self.pending() {
            match splice(self.pipe_r.as_raw_fd(), to.as_raw_fd(), self.queued)? {
                Some(0) | None => break,
                Some(n) => self.queued -= n,
            }
        }
        if self.eof && !self.pending() && !self.shut {
            let _ = to.shutdown(Shutdown::Write);
            self.shut = true;
        }
        Ok(())
    }
}

struct Conn {
    client: TcpStream,
    upstream: TcpStream,
    connected: bool,
    up: Half,
    down: Half,
}

/// A non-blocking connect (completion shows as POLLOUT).
fn connect_nonblocking(target: SocketAddr) -> std::io::Result<TcpStream> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    use std::os::fd::AsRawFd;
    let SocketAddr::V4(v4) = target else {
        return Err(std::io::Error::other("IPv4 targets only"));
    };
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: v4.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*v4.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: connect(2) on our socket with a fully initialised sockaddr_in and its size.
    let rc = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            &addr as *const libc::sockaddr_in as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    let err = std::io::Error::last_os_error();
    if rc == 0 || err.raw_os_error() == Some(libc::EINPROGRESS) {
        Ok(TcpStream::from(fd))
    } else {
        Err(err)
    }
}

/// Every TCP listener and connection in one poll(2) loop, no thread per connection (a
/// request's latency is then a few syscalls, not a thread start).
fn serve_tcp(listeners: Vec<(TcpListener, SocketAddr)>) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    for (l, _) in &listeners {
        let _ = l.set_nonblocking(true);
    }
    let mut conns: Vec<Conn> = Vec::new();
    loop {
        let mut fds: Vec<PollFd> = Vec::new();
        // (connection index or usize::MAX for listener i, listener index)
        let mut owners: Vec<(usize, usize)> = Vec::new();
        for (i, (l, _)) in listeners.iter().enumerate() {
            fds.push(PollFd::new(l.as_fd(), PollFlags::POLLIN));
            owners.push((usize::MAX, i));
        }
        for (i, c) in conns.iter().enumerate() {
            if !c.connected {
                fds.push(PollFd::new(c.upstream.as_fd(), PollFlags::POLLOUT));
                owners.push((i, 0));
                continue;
            }
            let mut on_client = PollFlags::empty();
            let mut on_upstream = PollFlags::empty();
            if !c.up.pending() && !c.up.eof {
                on_client |= PollFlags::POLLIN;
            }
            if c.up.pending() {
                on_upstream |= PollFlags::POLLOUT;
            }
            if !c.down.pending() && !c.down.eof {
                on_upstream |= PollFlags::POLLIN;
            }
            if c.down.pending() {
                on_client |= PollFlags::POLLOUT;
            }
            fds.push(PollFd::new(c.client.as_fd(), on_client));
            owners.push((i, 1));
            fds.push(PollFd::new(c.upstream.as_fd(), on_upstream));
            owners.push((i, 2));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return,
        }
        let ready: Vec<((usize, usize), PollFlags)> = fds
            .iter()
            .zip(owners)
            .map(|(f, o)| (o, f.revents().unwrap_or(PollFlags::empty())))
            .filter(|(_, r)| !r.is_empty())
            .collect();
        drop(fds);
        let mut broken = vec![false; conns.len()];
        let mut touched = vec![false; conns.len()];
        let hup = PollFlags::POLLHUP | PollFlags::POLLERR;
        let mut drain_client = vec![false; conns.len()];
        let mut drain_upstream = vec![false; conns.len()];
        // Accepted now: polled from the next round on.
        let mut fresh: Vec<Conn> = Vec::new();
        for ((conn, which), rev) in ready {
            if conn == usize::MAX {
                let (l, target) = &listeners[which];
                while let Ok((client, _)) = l.accept() {
                    let _ = client.set_nonblocking(true);
                    let _ = client.set_nodelay(true);
                    if let (Ok(upstream), Ok(up), Ok(down)) =
                        (connect_nonblocking(*target), Half::new(), Half::new())
                    {
                        fresh.push(Conn {
                            client,
                            upstream,
                            connected: false,
                            up,
                            down,
                        });
                    }
                }
                continue;
            }
            touched[conn] = true;
            let c = &mut conns[conn];
            if !c.connected {
                match c.upstream.take_error() {
                    Ok(None) if !rev.contains(PollFlags::POLLERR) => {
                        // Pumped below at once: the request is usually there already.
                        c.connected = true;
                        let _ = c.upstream.set_nodelay(true);
                    }
                    _ => broken[conn] = true,
                }
                continue;
            }
            if rev.intersects(hup) {
                if which == 1 {
                    drain_client[conn] = true;
                } else {
                    drain_upstream[conn] = true;
                }
            }
        }
        for (i, c) in conns.iter_mut().enumerate() {
            if !touched[i] || broken[i] || !c.connected {
                continue;
            }
            let ok =
                c.up.pump(&c.client, &c.upstream, drain_client[i])
                    .and_then(|_| c.down.pump(&c.upstream, &c.client, drain_upstream[i]));
            if ok.is_err() {
                broken[i] = true;
            }
        }
        let mut i = 0;
        conns.retain(|c| {
            let done = c.up.shut && c.down.shut;
            let keep = !(broken[i] || done);
            i += 1;
            keep
        });
        conns.append(&mut fresh);
    }
}

/// UDP: one socket per client towards the container, replies relayed back; a client's
/// flow is forgotten after 60 s without a reply.
fn serve_udp(s: UdpSocket, target: SocketAddr) {
    let flows: Arc<Mutex<HashMap<SocketAddr, UdpSocket>>> = Arc::default();
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, client)) = s.recv_from(&mut buf) else {
            continue;
        };
        let existing = flows
            .lock()
            .ok()
            .and_then(|m| m.get(&client).and_then(|u| u.try_clone().ok()));
        let up = match existing {
            Some(u) => u,
            None => {
                let Ok(u) = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)) else {
                    continue;
                };
                if u.connect(target).is_err() {
                    continue;
                }
                let _ = u.set_read_timeout(Some(Duration::from_secs(60)));
                let (Ok(reader), Ok(back), Ok(stored)) =
                    (u.try_clone(), s.try_clone(), u.try_clone())
                else {
                    continue;
                };
                if let Ok(mut m) = flows.lock() {
                    m.insert(client, stored);
                }
                let flows2 = flows.clone();
                std::thread::spawn(move || {
                    let mut b = vec![0u8; 65536];
                    while let Ok(n) = reader.recv(&mut b) {
                        let _ = back.send_to(&b[..n], client);
                    }
                    if let Ok(mut m) = flows2.lock() {
                        m.remove(&client);
                    }
                });
                u
            }
        };
        let _ = up.send(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// 16 MiB through the forwarder (backpressure), the reply after the client's half-close.
    #[test]
    fn forwards_tcp_with_half_close() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = server.local_addr().unwrap();
        std::thread::spawn(move || {
            for c in server.incoming() {
                let mut c = c.unwrap();
                let mut n = 0u64;
                let mut buf = vec![0u8; 1 << 16];
                loop {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(k) => n += k as u64,
                    }
                }
                let _ = c.write_all(n.to_string().as_bytes());
            }
        });
        let front = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = front.local_addr().unwrap();
        std::thread::spawn(move || serve_tcp(vec![(front, target)]));
        for _ in 0..3 {
            let mut c = TcpStream::connect(addr).unwrap();
            let chunk = vec![7u8; 1 << 20];
            for _ in 0..16 {
                c.write_all(&chunk).unwrap();
            }
            c.shutdown(Shutdown::Write).unwrap();
            let mut reply = String::new();
            c.read_to_string(&mut reply).unwrap();
            assert_eq!(reply, (16u64 << 20).to_string());
        }
    }

    #[test]
    fn publish_specs_as_docker() {
        let one = |s: &str| parse_publish(s).unwrap();
        assert_eq!(
            one("8080:80"),
            vec![PortRequest {
                host_ip: "".into(),
                host_port: 8080,
                container_port: 80,
                proto: "tcp".into()
            }]
        );
        assert_eq!(one("80")[0].host_port, 0);
        assert_eq!(one("127.0.0.1:8080:80/udp")[0].host_ip, "127.0.0.1");
        assert_eq!(one("127.0.0.1:8080:80/udp")[0].proto, "udp");
        assert_eq!(one("127.0.0.1::80")[0].host_port, 0);
        assert_eq!(one("[::1]:8080:80")[0].host_ip, "::1");
        assert_eq!(one("8000-8002:80-82").len(), 3);
        assert_eq!(one("8000-8002:80-82")[2].host_port, 8002);
        assert_eq!(
            parse_publish("abc").unwrap_err(),
            "invalid containerPort: abc"
        );
        assert_eq!(parse_publish("x:80").unwrap_err(), "invalid hostPort: x");
        assert_eq!(
            parse_publish("80/sctpx").unwrap_err(),
            "invalid proto: sctpx"
        );
        assert_eq!(
            parse_publish("1.2.3:80:80").unwrap_err(),
            "invalid IP address: 1.2.3"
        );
        assert!(parse_publish("1:2:3:4")
            .unwrap_err()
            .starts_with("invalid publish spec"));
        assert!(parse_publish("8000-8001:80").is_err());
    }
}
