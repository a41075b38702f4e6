//! `rdesk-shim`: the per-container monitor as a small companion binary (DESIGN.md allows it
//! to hold the monitor's memory target). Same arguments as `rdesk shim ...`; it links only
//! the engine's monitor code, so a running container costs less memory.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rest = match args.get(1).map(String::as_str) {
        Some("shim") => &args[2..],
        _ => &args[1..],
    };
    std::process::exit(rdesk_engine::shim::main(rest));
}
