//! The `:` command bar, k9s style: `:pull REF`, `:images`, `:containers`, `:volumes`,
//! `:networks`, `:help`, `:q`. (Drawn by the key bar, which it replaces while open.)

use super::super::app::Resource;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `pull` alone opens the reference input.
    Pull(Option<String>),
    /// `run`: words after it (`IMAGE [COMMAND]` fills the form; flags first run directly).
    Run(Vec<String>),
    Show(Resource),
    Help,
    Quit,
}

/// The help's lines for the command bar.
pub const HELP: [&str; 3] = [
    "run [IMAGE [CMD]]   the run form, filled in",
    "run -d|-it ARGS     run at once, as `rdesk run ARGS`",
    "pull [REF] · images · containers (ps) · volumes · networks · help · quit (q)",
];

pub const USAGE: &str =
    "commands: run [IMAGE [CMD]] (form) or run -d|-it ... (as `rdesk run`), pull [REF], images, containers (ps), volumes, networks, help, quit (q)";

/// `Ok(None)` for an empty line.
pub fn parse(line: &str) -> Result<Option<Command>, String> {
    let mut words = line.split_whitespace();
    let Some(verb) = words.next() else {
        return Ok(None);
    };
    let args: Vec<&str> = words.collect();
    let no_args = |c: Command| {
        if args.is_empty() {
            Ok(Some(c))
        } else {
            Err(format!(":{verb} takes no argument"))
        }
    };
    match verb {
        "pull" | "p" => match args.as_slice() {
            [] => Ok(Some(Command::Pull(None))),
            [r] => Ok(Some(Command::Pull(Some(r.to_string())))),
            _ => Err(":pull takes one image reference, e.g. :pull alpine:3.20".into()),
        },
        "images" | "image" | "img" | "i" => no_args(Command::Show(Resource::Images)),
        "containers" | "container" | "ps" | "co" => no_args(Command::Show(Resource::Containers)),
        "volumes" | "volume" | "vol" => no_args(Command::Show(Resource::Volumes)),
        "networks" | "network" | "net" => no_args(Command::Show(Resource::Networks)),
        "help" | "?" => no_args(Command::Help),
        "q" | "q!" | "quit" | "exit" => no_args(Command::Quit),
        "run" => super::run::split_words(line.trim_start().trim_start_matches("run"))
            .map(|w| Some(Command::Run(w)))
            .map_err(|e| format!(":run: {e}")),
        other => Err(format!("unknown command :{other}; {USAGE}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(parse("  "), Ok(None));
        assert_eq!(
            parse("pull alpine"),
            Ok(Some(Command::Pull(Some("alpine".into()))))
        );
        assert_eq!(parse("pull"), Ok(Some(Command::Pull(None))));
        assert_eq!(parse("images"), Ok(Some(Command::Show(Resource::Images))));
        assert_eq!(parse("ps"), Ok(Some(Command::Show(Resource::Containers))));
        assert_eq!(parse("q"), Ok(Some(Command::Quit)));
        assert!(parse("images x").is_err());
        assert!(parse("pull a b").is_err());
        assert_eq!(
            parse("run busybox sh -c 'echo hi'"),
            Ok(Some(Command::Run(vec![
                "busybox".into(),
                "sh".into(),
                "-c".into(),
                "echo hi".into()
            ])))
        );
        assert!(parse("frob").unwrap_err().contains("unknown command"));
    }
}
