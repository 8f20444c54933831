//! Pointing `gh` at the socket: a `GH_CONFIG_DIR` that keeps the user's settings and adds
//! `http_unix_socket` (gh reads it only from its config file).

use std::path::{Path, PathBuf};

/// Copies `config.yml` and `hosts.yml` from the user's gh configuration (if any) into
/// `dest`, replacing any `http_unix_socket` line with ours.
pub fn write(dest: &Path, user_config: Option<&Path>, socket: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dest)?;
    let mut config = String::new();
    if let Some(src) = user_config {
        if let Ok(text) = std::fs::read_to_string(src.join("config.yml")) {
            config = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("http_unix_socket:"))
                .collect::<Vec<_>>()
                .join("\n");
        }
        if let Ok(hosts) = std::fs::read(src.join("hosts.yml")) {
            std::fs::write(dest.join("hosts.yml"), hosts)?;
        }
    }
    if !config.is_empty() && !config.ends_with('\n') {
        config.push('\n');
    }
    // A quoted scalar: socket paths may hold characters YAML treats specially.
    config.push_str(&format!(
        "http_unix_socket: \"{}\"\n",
        socket.display().to_string().replace('\\', "\\\\").replace('"', "\\\"")
    ));
    std::fs::write(dest.join("config.yml"), config)?;
    Ok(dest.to_owned())
}

/// Where the user's gh configuration lives: `GH_CONFIG_DIR`, else `~/.config/gh`.
pub fn user_dir(gh_config_dir: Option<&str>, home: Option<&str>) -> Option<PathBuf> {
    gh_config_dir
        .map(PathBuf::from)
        .or_else(|| home.map(|h| Path::new(h).join(".config").join("gh")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_users_settings_and_replaces_the_socket() {
        let user = tempfile::tempdir().unwrap();
        std::fs::write(
            user.path().join("config.yml"),
            "editor: vim\nhttp_unix_socket: /old\nprompt: disabled",
        )
        .unwrap();
        std::fs::write(user.path().join("hosts.yml"), "github.com:\n  user: me\n").unwrap();
        let out = tempfile::tempdir().unwrap();
        let dir = write(&out.path().join("gh"), Some(user.path()), Path::new("/t/api.sock")).unwrap();
        let config = std::fs::read_to_string(dir.join("config.yml")).unwrap();
        assert_eq!(
            config,
            "editor: vim\nprompt: disabled\nhttp_unix_socket: \"/t/api.sock\"\n"
        );
        assert!(
            std::fs::read_to_string(dir.join("hosts.yml"))
                .unwrap()
                .contains("user: me")
        );
        let fresh = write(&out.path().join("gh2"), None, Path::new("/s")).unwrap();
        assert_eq!(
            std::fs::read_to_string(fresh.join("config.yml")).unwrap(),
            "http_unix_socket: \"/s\"\n"
        );
    }
}
