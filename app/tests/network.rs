//! Networks through the real binary: bridges, veths and namespaces, IPAM, the embedded DNS
//! (real queries with nslookup), published ports reached from the host, connect/disconnect
//! on running containers, and nothing left behind (links, namespaces, nft tables). Root
//! only; traffic stays between the host and the store's own bridges, or on 127.0.0.1.

mod common;

use common::{links_with, with_busybox, NetCleanup, Rdesk};
use rdesk_engine::models::{ContainerInspectResponse, Network};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn inspect_container(rd: &Rdesk, name: &str) -> ContainerInspectResponse {
    let out = rd.run(&["inspect", name]).ok();
    let mut v: Vec<ContainerInspectResponse> = serde_json::from_str(&out.stdout).unwrap();
    v.remove(0)
}

fn inspect_network(rd: &Rdesk, name: &str) -> Network {
    let out = rd.run(&["network", "inspect", name]).ok();
    let mut v: Vec<Network> = serde_json::from_str(&out.stdout).unwrap();
    v.remove(0)
}

fn ip_on(rd: &Rdesk, container: &str, network: &str) -> String {
    inspect_container(rd, container)
        .network_settings
        .unwrap()
        .networks
        .unwrap()[network]
        .ip_address
        .clone()
        .unwrap()
}

/// An HTTP GET from the host; the body.
fn http_get(addr: &str) -> std::io::Result<String> {
    let mut s =
        std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET / HTTP/1.0\r\nHost: x\r\n\r\n")?;
    let mut body = String::new();
    s.read_to_string(&mut body)?;
    Ok(body)
}

/// Waits until `f` holds (a server in a detached container needs a moment).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

/// An A query over TCP to `server`:53; the first answer's address.
fn tcp_lookup(server: &str, name: &str) -> Option<String> {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    let mut s = std::net::TcpStream::connect_timeout(
        &format!("{server}:53").parse().unwrap(),
        Duration::from_secs(3),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    let mut msg = (q.len() as u16).to_be_bytes().to_vec();
    msg.extend_from_slice(&q);
    s.write_all(&msg).ok()?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut r = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut r).ok()?;
    let answers = u16::from_be_bytes([r[6], r[7]]);
    (answers > 0 && r.len() >= 4).then(|| {
        let a = &r[r.len() - 4..];
        format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
    })
}

/// A shell command fetching `url` within 3 s (wget is not PID 1 there, so `timeout` can
/// end it; busybox's own `wget -T` crashes).
fn fetch(url: &str) -> String {
    format!("timeout 3 wget -qO- {url}; exit $?")
}

const SERVE: &str =
    "mkdir -p /www && echo hello-from-$(hostname) > /www/index.html && exec httpd -f -p 80 -h /www";

#[test]
fn names_and_aliases_resolve_on_a_user_network_only() {
    let (_reg, rd, img) = with_busybox();
    let c = NetCleanup::new(&rd);
    let id = rd.run(&["network", "create", "todo-app"]).ok().stdout;
    assert_eq!(id.trim().len(), 64);
    rd.run(&[
        "run",
        "-d",
        "--name",
        "server",
        "--hostname",
        "server",
        "--network",
        "todo-app",
        "--network-alias",
        "mysql",
        &img,
        "sh",
        "-c",
        SERVE,
    ])
    .ok();
    let server_ip = ip_on(&rd, "server", "todo-app");
    // Outbound access was set up with the bridge: masquerade of its subnet in our own table.
    let subnet = inspect_network(&rd, "todo-app")
        .ipam
        .unwrap()
        .config
        .unwrap()[0]
        .subnet
        .clone()
        .unwrap();
    let table = std::process::Command::new("nft")
        .args(["list", "table", "ip", &c.prefix])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains(&format!("ip saddr {subnet} oifname != ")),
        "{table}"
    );
    assert!(table.contains("masquerade"), "{table}");
    // A real DNS query to the embedded DNS (the resolver in the container's resolv.conf).
    let out = rd
        .run(&[
            "run",
            "--rm",
            "--network",
            "todo-app",
            &img,
            "nslookup",
            "mysql",
        ])
        .ok();
    assert!(
        out.stdout.contains(&format!("Address: {server_ip}")),
        "{}",
        out.stdout
    );
    let out = rd
        .run(&[
            "run",
            "--rm",
            "--network",
            "todo-app",
            &img,
            "nslookup",
            "server",
        ])
        .ok();
    assert!(out.stdout.contains(&server_ip), "{}", out.stdout);
    let resolv = rd
        .run(&[
            "run",
            "--rm",
            "--network",
            "todo-app",
            &img,
            "cat",
            "/etc/resolv.conf",
        ])
        .ok()
        .stdout;
    let gw = inspect_network(&rd, "todo-app")
        .ipam
        .unwrap()
        .config
        .unwrap()[0]
        .gateway
        .clone()
        .unwrap();
    assert!(resolv.contains(&format!("nameserver {gw}")), "{resolv}");
    // DNS over TCP too (what a client does after a truncated answer), from the host.
    assert_eq!(tcp_lookup(&gw, "mysql"), Some(server_ip.clone()));
    // And fetching from it by its alias.
    let mut body = String::new();
    eventually("the server to answer", || {
        let out = rd.run(&[
            "run",
            "--rm",
            "--network",
            "todo-app",
            &img,
            "sh",
            "-c",
            &fetch("http://mysql/"),
        ]);
        body = out.stdout;
        out.code == 0
    });
    assert_eq!(body, "hello-from-server\n");
    // A container on another network resolves neither the alias nor the name.
    rd.run(&["network", "create", "elsewhere"]).ok();
    let out = rd.run(&[
        "run",
        "--rm",
        "--network",
        "elsewhere",
        &img,
        "nslookup",
        "mysql",
    ]);
    assert_ne!(out.code, 0, "resolved across networks: {}", out.stdout);
    assert!(!out.stdout.contains(&server_ip), "{}", out.stdout);
    let out = rd.run(&[
        "run",
        "--rm",
        "--network",
        "elsewhere",
        &img,
        "sh",
        "-c",
        &fetch(&format!("http://{server_ip}/")),
    ]);
    assert_ne!(
        out.code, 0,
        "reached another network's container: {}",
        out.stdout
    );
    // network inspect: Docker's shape, the container with its address.
    let net = inspect_network(&rd, "todo-app");
    assert_eq!(net.driver.as_deref(), Some("bridge"));
    assert_eq!(net.scope.as_deref(), Some("local"));
    let containers = net.containers.unwrap();
    let (_, entry) = containers.iter().next().unwrap();
    assert_eq!(entry.name.as_deref(), Some("server"));
    assert!(entry
        .ipv4_address
        .as_deref()
        .unwrap()
        .starts_with(&format!("{server_ip}/")));
    // Removing a network in use is refused, as Docker does.
    rd.run(&["network", "rm", "todo-app"]).fails(
        1,
        "error while removing network: network todo-app has active endpoints",
    );
    rd.run(&["rm", "-f", "server"]).ok();
    rd.run(&["network", "rm", "todo-app", "elsewhere"]).ok();
    drop(c);
}

#[test]
fn published_ports_reach_the_container_from_the_host() {
    let (_reg, rd, img) = with_busybox();
    let c = NetCleanup::new(&rd);
    rd.run(&[
        "run",
        "-d",
        "--name",
        "web",
        "--hostname",
        "web",
        "-p",
        "80",
        "-p",
        "127.0.0.1::80",
        &img,
        "sh",
        "-c",
        SERVE,
    ])
    .ok();
    let ports = rd.run(&["port", "web"]).ok().stdout;
    let lines: Vec<&str> = ports.lines().collect();
    assert_eq!(lines.len(), 2, "{ports}");
    assert!(lines[0].starts_with("80/tcp -> 0.0.0.0:"), "{ports}");
    assert!(lines[1].starts_with("80/tcp -> 127.0.0.1:"), "{ports}");
    let any_port = lines[0].rsplit(':').next().unwrap().to_string();
    let lo_port = lines[1].rsplit(':').next().unwrap().to_string();
    // 0.0.0.0 is reachable through 127.0.0.1 too (as Docker's).
    for p in [&any_port, &lo_port] {
        let mut body = String::new();
        eventually("the published port to answer", || {
            match http_get(&format!("127.0.0.1:{p}")) {
                Ok(b) if b.contains("hello-from-web") => {
                    body = b;
                    true
                }
                _ => false,
            }
        });
        assert!(body.contains(" 200 OK"), "{body}");
    }
    // The same reached on the container's own address, from the host, over its bridge.
    let ip = inspect_container(&rd, "web")
        .network_settings
        .unwrap()
        .ip_address
        .unwrap();
    assert!(http_get(&format!("{ip}:80"))
        .unwrap()
        .contains("hello-from-web"));
    // inspect: Ports and PortBindings in Docker's shape.
    let i = inspect_container(&rd, "web");
    let bound = i.network_settings.unwrap().ports.unwrap()["80/tcp"]
        .clone()
        .unwrap();
    assert_eq!(bound.len(), 2);
    assert_eq!(
        i.host_config.as_ref().unwrap().network_mode.as_deref(),
        Some("bridge")
    );
    assert!(i
        .host_config
        .unwrap()
        .port_bindings
        .unwrap()
        .contains_key("80/tcp"));
    assert_eq!(
        rd.run(&["port", "web", "80/tcp"])
            .ok()
            .stdout
            .lines()
            .count(),
        2
    );
    rd.run(&["port", "web", "81"])
        .fails(1, "No public port '81/tcp' published for web");
    // A host port already taken: the start fails, as Docker's.
    let fixed = rd.run(&[
        "run",
        "-d",
        "--name",
        "holder",
        "-p",
        "127.0.0.1:0:80",
        &img,
        "sleep",
        "60",
    ]);
    fixed.ok();
    let out = rd.run(&[
        "run",
        "-d",
        "-p",
        &format!("127.0.0.1:{lo_port}:80"),
        &img,
        "sleep",
        "60",
    ]);
    assert_eq!(out.code, 125, "{}", out.stderr);
    assert!(
        out.stderr.contains("port is already allocated"),
        "{}",
        out.stderr
    );
    // Stopping frees the port.
    rd.run(&["stop", "-t", "0", "web"]).ok();
    assert!(http_get(&format!("127.0.0.1:{lo_port}")).is_err());
    assert_eq!(rd.run(&["port", "web"]).ok().stdout, "");
    drop(c);
}

#[test]
fn publish_all_uses_the_images_expose() {
    use rdesk_testkit::fixtures::{self, Format, ImageFixture, ImageOptions};
    let (reg, rd, _img) = with_busybox();
    let c = NetCleanup::new(&rd);
    let options = ImageOptions {
        exposed_ports: vec!["80/tcp".into()],
        ..ImageOptions::with_cmd(&["sh"])
    };
    reg.push(
        "library/web",
        "latest",
        &ImageFixture::build(vec![fixtures::busybox_layer()], &options, Format::DockerV2),
    );
    let web = format!("{}/library/web", reg.addr());
    rd.run(&[
        "run",
        "-d",
        "--name",
        "w1",
        "--hostname",
        "w1",
        "-P",
        &web,
        "sh",
        "-c",
        SERVE,
    ])
    .ok();
    let out = rd.run(&["port", "w1", "80"]).ok().stdout;
    assert!(out.starts_with("0.0.0.0:"), "{out}");
    let port = out.trim().rsplit(':').next().unwrap().to_string();
    eventually("the -P port to answer", || {
        http_get(&format!("127.0.0.1:{port}")).is_ok_and(|b| b.contains("hello-from-w1"))
    });
    drop(c);
}

#[test]
fn network_none_has_only_loopback() {
    let (_reg, rd, img) = with_busybox();
    let c = NetCleanup::new(&rd);
    let out = rd
        .run(&[
            "run",
            "--rm",
            "--network",
            "none",
            &img,
            "cat",
            "/proc/net/dev",
        ])
        .ok()
        .stdout;
    let ifaces: Vec<&str> = out
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(ifaces, ["lo"], "{out}");
    // Loopback is up.
    let out = rd
        .run(&[
            "run",
            "--rm",
            "--network",
            "none",
            &img,
            "ping",
            "-c",
            "1",
            "-W",
            "2",
            "127.0.0.1",
        ])
        .ok();
    assert!(out.stdout.contains("1 packets received"), "{}", out.stdout);
    // host: the host's own interfaces.
    let out = rd
        .run(&[
            "run",
            "--rm",
            "--network",
            "host",
            &img,
            "cat",
            "/proc/net/dev",
        ])
        .ok()
        .stdout;
    assert!(out.lines().count() > 3, "{out}");
    drop(c);
}

#[test]
fn connect_and_disconnect_a_running_container() {
    let (_reg, rd, img) = with_busybox();
    let c = NetCleanup::new(&rd);
    rd.run(&["network", "create", "front"]).ok();
    rd.run(&["network", "create", "--subnet", "10.123.0.0/24", "back"])
        .ok();
    rd.run(&[
        "run",
        "-d",
        "--name",
        "app",
        "--network",
        "front",
        &img,
        "sleep",
        "300",
    ])
    .ok();
    rd.run(&[
        "network",
        "connect",
        "--alias",
        "api",
        "--ip",
        "10.123.0.50",
        "back",
        "app",
    ])
    .ok();
    let dev = rd.run(&["exec", "app", "cat", "/proc/net/dev"]).ok().stdout;
    assert!(dev.contains("eth1:"), "{dev}");
    assert_eq!(ip_on(&rd, "app", "back"), "10.123.0.50");
    let net = inspect_network(&rd, "back");
    assert!(net
        .containers
        .unwrap()
        .values()
        .any(|e| e.ipv4_address.as_deref() == Some("10.123.0.50/24")));
    // A container on `back` resolves the live-connected one by its alias, and reaches it.
    let out = rd
        .run(&["run", "--rm", "--network", "back", &img, "nslookup", "api"])
        .ok();
    assert!(out.stdout.contains("10.123.0.50"), "{}", out.stdout);
    rd.run(&[
        "run",
        "--rm",
        "--network",
        "back",
        &img,
        "ping",
        "-c",
        "1",
        "-W",
        "2",
        "api",
    ])
    .ok();
    rd.run(&["network", "connect", "back", "app"])
        .fails(1, "endpoint with name app already exists in network back");
    rd.run(&["network", "disconnect", "back", "app"]).ok();
    let dev = rd.run(&["exec", "app", "cat", "/proc/net/dev"]).ok().stdout;
    assert!(!dev.contains("eth1:"), "{dev}");
    assert!(inspect_network(&rd, "back").containers.unwrap().is_empty());
    let out = rd.run(&["run", "--rm", "--network", "back", &img, "nslookup", "api"]);
    assert_ne!(out.code, 0, "{}", out.stdout);
    rd.run(&["network", "disconnect", "back", "app"])
        .fails(1, "is not connected to network back");
    drop(c);
}

#[test]
fn a_hundred_containers_get_a_hundred_addresses() {
    let (_reg, rd, img) = with_busybox();
    let c = NetCleanup::new(&rd);
    rd.run(&["network", "create", "many"]).ok();
    // Four rdesk processes at once, as several users would.
    std::thread::scope(|s| {
        for t in 0..4 {
            let (rd, img) = (&rd, &img);
            s.spawn(move || {
                for i in 0..25 {
                    let name = format!("c{t}-{i}");
                    rd.run(&[
                        "run",
                        "-d",
                        "--name",
                        &name,
                        "--network",
                        "many",
                        img,
                        "sleep",
                        "600",
                    ])
                    .ok();
                }
            });
        }
    });
    let net = inspect_network(&rd, "many");
    let addrs: std::collections::BTreeSet<String> = net
        .containers
        .unwrap()
        .values()
        .map(|e| e.ipv4_address.clone().unwrap())
        .collect();
    assert_eq!(addrs.len(), 100, "{addrs:?}");
    // Removing frees the addresses.
    let ids = rd.run(&["ps", "-q", "--no-trunc"]).ok().stdout;
    let ids: Vec<&str> = ids.lines().collect();
    let mut args = vec!["rm", "-f"];
    args.extend(ids);
    rd.run(&args).ok();
    assert!(inspect_network(&rd, "many").containers.unwrap().is_empty());
    drop(c);
}

#[test]
fn bad_input_gets_dockers_messages() {
    let (_reg, rd, img) = with_busybox();
    let c = NetCleanup::new(&rd);
    rd.run(&["network", "create", "dup"]).ok();
    rd.run(&["network", "create", "dup"]).fails(
        1,
        "Error response from daemon: network with name dup already exists",
    );
    rd.run(&["network", "rm", "nope"])
        .fails(1, "Error response from daemon: network nope not found");
    rd.run(&["network", "inspect", "nope"])
        .fails(1, "network nope not found");
    // `inspect` without a type finds networks too.
    let generic = rd
        .run(&["inspect", "-f", "{{.Name}} {{.Driver}}", "dup"])
        .ok();
    assert_eq!(generic.stdout.trim(), "dup bridge");
    rd.run(&["run", "--rm", "--network", "nope", &img, "true"])
        .fails(125, "network nope not found");
    rd.run(&["run", "--rm", "-p", "abc", &img, "true"])
        .fails(125, "invalid containerPort: abc");
    rd.run(&["run", "--rm", "-p", "x:80", &img, "true"])
        .fails(125, "invalid hostPort: x");
    rd.run(&["network", "create", "--subnet", "10.99.0.0/99", "bad"])
        .fails(1, "invalid CIDR address: 10.99.0.0/99");
    rd.run(&["network", "create", "--subnet", "10.98.0.0/16", "n1"])
        .ok();
    rd.run(&["network", "create", "--subnet", "10.98.5.0/24", "n2"])
        .fails(1, "Pool overlaps with other one on this address space");
    rd.run(&["run", "--rm", "--network", "dup", "--ip", "10.0.0.5", &img, "true"]).fails(
        125,
        "user specified IP address is supported only when connecting to networks with user configured subnets",
    );
    rd.run(&["run", "--rm", "--network-alias", "x", &img, "true"])
        .fails(
            125,
            "network-scoped alias is supported only for containers in user defined networks",
        );
    // ls shows the pre-defined ones too; prune removes only unused user networks.
    let ls = rd
        .run(&["network", "ls", "--format", "{{.Name}}"])
        .ok()
        .stdout;
    for n in ["bridge", "host", "none", "dup", "n1"] {
        assert!(ls.lines().any(|l| l == n), "{ls}");
    }
    let pruned = rd.run(&["network", "prune", "-f"]).ok().stdout;
    assert!(pruned.starts_with("Deleted Networks:\n"), "{pruned}");
    assert!(
        pruned.contains("dup\n") && pruned.contains("n1\n"),
        "{pruned}"
    );
    assert!(!pruned.contains("bridge"));
    drop(c);
}

#[test]
fn hosts_resolv_internal_and_shared_namespaces() {
    let (_reg, rd, img) = with_busybox();
    let c = NetCleanup::new(&rd);
    rd.run(&["network", "create", "n1"]).ok();
    let gw = inspect_network(&rd, "n1").ipam.unwrap().config.unwrap()[0]
        .gateway
        .clone()
        .unwrap();
    let out = rd
        .run(&[
            "run",
            "--rm",
            "--network",
            "n1",
            "--hostname",
            "myhost",
            "--add-host",
            "db:10.1.2.3",
            "--add-host",
            "gw:host-gateway",
            "--dns-search",
            "corp.example",
            &img,
            "sh",
            "-c",
            "cat /etc/hosts; echo ---; cat /etc/resolv.conf; hostname",
        ])
        .ok()
        .stdout;
    let (hosts, rest) = out.split_once("---\n").unwrap();
    assert!(hosts.contains("127.0.0.1\tlocalhost\n"), "{hosts}");
    assert!(hosts.contains("10.1.2.3\tdb\n"), "{hosts}");
    assert!(hosts.contains(&format!("{gw}\tgw\n")), "{hosts}");
    assert!(
        hosts
            .lines()
            .any(|l| l.ends_with("\tmyhost") && !l.starts_with("127.")),
        "{hosts}"
    );
    assert!(rest.contains(&format!("nameserver {gw}\n")), "{rest}");
    assert!(rest.contains("search corp.example\n"), "{rest}");
    assert!(rest.ends_with("myhost\n"), "{rest}");
    // The default bridge: no embedded DNS, --dns as given.
    let out = rd
        .run(&[
            "run",
            "--rm",
            "--dns",
            "10.9.9.9",
            &img,
            "cat",
            "/etc/resolv.conf",
        ])
        .ok()
        .stdout;
    assert!(out.starts_with("nameserver 10.9.9.9\n"), "{out}");
    // --network container:NAME shares the namespace (same interface, same address).
    rd.run(&[
        "run",
        "-d",
        "--name",
        "base",
        "--network",
        "n1",
        &img,
        "sleep",
        "300",
    ])
    .ok();
    let ip = ip_on(&rd, "base", "n1");
    let out = rd
        .run(&[
            "run",
            "--rm",
            "--network",
            "container:base",
            &img,
            "cat",
            "/proc/net/fib_trie",
        ])
        .ok()
        .stdout;
    assert!(out.contains(&ip), "{out}");
    // Internal: no default route out; the containers still reach each other.
    rd.run(&["network", "create", "--internal", "int"]).ok();
    rd.run(&[
        "run",
        "-d",
        "--name",
        "peer",
        "--network",
        "int",
        &img,
        "sleep",
        "300",
    ])
    .ok();
    let routes = rd
        .run(&[
            "run",
            "--rm",
            "--network",
            "int",
            &img,
            "cat",
            "/proc/net/route",
        ])
        .ok()
        .stdout;
    assert!(
        !routes
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some("00000000")),
        "{routes}"
    );
    rd.run(&[
        "run",
        "--rm",
        "--network",
        "int",
        &img,
        "ping",
        "-c",
        "1",
        "-W",
        "2",
        "peer",
    ])
    .ok();
    // stop releases the address (and the bridge with the last endpoint); start allocates again.
    rd.run(&["stop", "-t", "0", "peer"]).ok();
    assert!(inspect_network(&rd, "int").containers.unwrap().is_empty());
    let bridge =
        inspect_network(&rd, "int").options.unwrap()["com.docker.network.bridge.name"].clone();
    // The monitor deletes it right after recording the exit.
    eventually("the bridge to go with its last endpoint", || {
        !links_with(&bridge).contains(&bridge)
    });
    rd.run(&["start", "peer"]).ok();
    assert!(!ip_on(&rd, "peer", "int").is_empty());
    assert_eq!(inspect_network(&rd, "int").containers.unwrap().len(), 1);
    drop(c);
}

#[test]
fn udp_ports_are_forwarded() {
    let (_reg, rd, img) = with_busybox();
    let c = NetCleanup::new(&rd);
    rd.run(&[
        "run",
        "-d",
        "--name",
        "udp1",
        "-p",
        "127.0.0.1::9999/udp",
        &img,
        "sleep",
        "300",
    ])
    .ok();
    let ns = inspect_container(&rd, "udp1")
        .network_settings
        .unwrap()
        .sandbox_key
        .unwrap();
    // An echo server on a thread inside the container's network namespace.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let f = std::fs::File::open(&ns).unwrap();
        nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        let s = std::net::UdpSocket::bind("0.0.0.0:9999").unwrap();
        ready_tx.send(()).unwrap();
        let mut buf = [0u8; 100];
        for _ in 0..2 {
            let (n, from) = s.recv_from(&mut buf).unwrap();
            let mut reply = b"echo:".to_vec();
            reply.extend_from_slice(&buf[..n]);
            s.send_to(&reply, from).unwrap();
        }
    });
    ready_rx.recv().unwrap();
    let out = rd.run(&["port", "udp1", "9999/udp"]).ok().stdout;
    let port = out.trim().rsplit(':').next().unwrap().to_string();
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    for m in ["a", "b"] {
        s.send_to(m.as_bytes(), format!("127.0.0.1:{port}"))
            .unwrap();
        let mut buf = [0u8; 100];
        let n = s.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], format!("echo:{m}").as_bytes());
    }
    drop(c);
}

/// The engine API a Networks pane uses: each network with its containers' names,
/// addresses and aliases.
#[test]
fn engine_api_lists_networks_with_their_containers() {
    let (_reg, rd, img) = with_busybox();
    let c = NetCleanup::new(&rd);
    rd.run(&["network", "create", "--label", "team=a", "pane"])
        .ok();
    rd.run(&[
        "run",
        "-d",
        "--name",
        "db",
        "--network",
        "pane",
        "--network-alias",
        "database",
        &img,
        "sleep",
        "300",
    ])
    .ok();
    let ip = ip_on(&rd, "db", "pane");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let usage = rt.block_on(async {
        let mut cfg = rdesk_engine::EngineConfig::with_root(rd.root(), rd.dir.path().join("run"));
        cfg.shim_binary = env!("CARGO_BIN_EXE_rdesk").into();
        let engine = rdesk_engine::Engine::open(cfg).await.unwrap();
        let filtered = engine
            .list_networks(rdesk_engine::NetworkFilters {
                label: vec!["team=a".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(filtered.len(), 1);
        assert_eq!(filtered[0].name.as_deref(), Some("pane"));
        engine.network_usage().await.unwrap()
    });
    let (net, rows) = usage
        .iter()
        .find(|(n, _)| n.name.as_deref() == Some("pane"))
        .unwrap();
    assert!(net.ipam.as_ref().unwrap().config.as_ref().unwrap()[0]
        .subnet
        .is_some());
    assert_eq!(
        rows,
        &vec![("db".to_string(), ip, vec!["database".to_string()])]
    );
    drop(c);
}
