//! Outbound access for the bridges: masquerade and forwarding rules in rdesk's own nftables
//! table (`ip rdesk`, or `ip <prefix>` for a non-default store), written with the `nft`
//! binary as one atomic transaction each time the set of live bridges changes, and deleted
//! with the last bridge. Internal networks get drop rules instead (no way out).

use std::io::Write;
use std::process::{Command, Stdio};

/// One live bridge and what it needs.
pub struct BridgeRules {
    pub bridge: String,
    pub subnet: String,
    pub internal: bool,
}

fn nft_binary() -> Option<&'static str> {
    ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
}

/// The ruleset for `table` given the live bridges (empty: the table is deleted).
pub fn ruleset(table: &str, bridges: &[BridgeRules]) -> String {
    let mut s = format!("table ip {table}\ndelete table ip {table}\n");
    if bridges.is_empty() {
        return s;
    }
    s.push_str(&format!("table ip {table} {{\n"));
    s.push_str(
        "  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n",
    );
    for b in bridges.iter().filter(|b| !b.internal) {
        s.push_str(&format!(
            "    ip saddr {} oifname != \"{}\" masquerade\n",
            b.subnet, b.bridge
        ));
    }
    s.push_str("  }\n");
    s.push_str("  chain forward {\n    type filter hook forward priority filter; policy accept;\n");
    // Within one bridge: always. Into a bridge: only replies (networks are isolated from
    // each other and from outside; published ports come through the host's forwarder).
    for b in bridges {
        s.push_str(&format!(
            "    iifname \"{0}\" oifname \"{0}\" accept\n",
            b.bridge
        ));
    }
    for b in bridges {
        s.push_str(&format!(
            "    oifname \"{}\" ct state established,related accept\n",
            b.bridge
        ));
        s.push_str(&format!("    oifname \"{}\" drop\n", b.bridge));
    }
    // Out of a bridge: to the world unless internal.
    for b in bridges {
        let verdict = if b.internal { "drop" } else { "accept" };
        s.push_str(&format!("    iifname \"{}\" {verdict}\n", b.bridge));
    }
    s.push_str("  }\n}\n");
    s
}

/// Applies the rules (one `nft -f -` transaction). Turns on IPv4 forwarding when a bridge
/// needs outbound access, as Docker does.
pub fn apply(table: &str, bridges: &[BridgeRules]) -> Result<(), String> {
    let Some(nft) = nft_binary() else {
        if bridges.is_empty() {
            return Ok(());
        }
        return Err(
            "rdesk needs nftables for its bridges' outbound access and isolation: \
                    install the nftables package (apt-get install nftables)"
                .into(),
        );
    };
    if bridges.iter().any(|b| !b.internal) {
        let _ = std::fs::write("/proc/sys/net/ipv4/ip_forward", "1");
    }
    let script = ruleset(table, bridges);
    let mut child = Command::new(nft)
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {nft}: {e}"))?;
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(script.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("cannot run {nft}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "nft could not apply rdesk's rules: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_per_bridge_kind() {
        let r = ruleset(
            "rdab12",
            &[
                BridgeRules {
                    bridge: "rdab120".into(),
                    subnet: "172.17.0.0/16".into(),
                    internal: false,
                },
                BridgeRules {
                    bridge: "rdab12b00000001".into(),
                    subnet: "10.5.0.0/24".into(),
                    internal: true,
                },
            ],
        );
        assert!(r.contains("ip saddr 172.17.0.0/16 oifname != \"rdab120\" masquerade"));
        assert!(
            !r.contains("10.5.0.0/24"),
            "internal networks are never masqueraded"
        );
        assert!(r.contains("iifname \"rdab12b00000001\" drop"));
        assert!(r.contains("iifname \"rdab120\" accept"));
        // New connections into a bridge (from another network, or outside) are dropped,
        // and that comes before any bridge's outbound accept.
        let drop_into = r.find("oifname \"rdab120\" drop").unwrap();
        assert!(drop_into < r.find("iifname \"rdab120\" accept").unwrap());
        assert_eq!(
            ruleset("rdab12", &[]),
            "table ip rdab12\ndelete table ip rdab12\n"
        );
    }
}
