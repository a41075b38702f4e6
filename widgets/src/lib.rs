//! Reusable ratatui widgets for rdesk's workstation (resource table, JSON inspect tree, log
//! viewer, layer history, file browser, terminal pane, per-layer progress, forms). They take
//! plain data, never engine types. The widgets arrive with the TUI (issue 4).
