//! The page's files: built into the binary, or read from a directory while working on the page.

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};

use percent_encoding::percent_decode_str;

/// Files served from a directory are read whole; nothing in `static/` comes near this.
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// The page, built into the binary so it works from any working directory.
const EMBEDDED: &[(&str, &str)] = &[
    ("index.html", include_str!("../../../static/index.html")),
    ("app.js", include_str!("../../../static/app.js")),
    ("style.css", include_str!("../../../static/style.css")),
    (
        "capture-worklet.js",
        include_str!("../../../static/capture-worklet.js"),
    ),
    (
        "player-worklet.js",
        include_str!("../../../static/player-worklet.js"),
    ),
];

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "wav" => "audio/wav",
        _ => "application/octet-stream",
    }
}

/// The page's files: built in, or read from a directory (to work on the page without rebuilding).
#[derive(Clone, Debug, Default)]
pub struct StaticFiles {
    dir: Option<PathBuf>,
}

impl StaticFiles {
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self { dir }
    }

    /// The file for a request path, or `None` (404). Only plain names below the root are
    /// served: `..`, `.`, empty segments, backslashes and NUL are refused before any lookup.
    pub fn get(&self, path: &str) -> Option<(Cow<'static, [u8]>, &'static str)> {
        let decoded = percent_decode_str(path).decode_utf8().ok()?;
        let rel = decoded.strip_prefix('/')?;
        let rel = if rel.is_empty() { "index.html" } else { rel };
        let segments: Vec<&str> = rel.split('/').collect();
        if segments
            .iter()
            .any(|s| s.is_empty() || *s == "." || *s == ".." || s.contains(['\\', '\0', ':']))
        {
            return None;
        }
        match &self.dir {
            None => EMBEDDED
                .iter()
                .find(|(name, _)| *name == rel)
                .map(|(name, body)| (Cow::Borrowed(body.as_bytes()), content_type(name))),
            Some(dir) => read_below(dir, &segments).map(|b| (Cow::Owned(b), content_type(rel))),
        }
    }
}

/// Read `root/segments...` only if it resolves (links followed) to a file inside `root`.
fn read_below(root: &Path, segments: &[&str]) -> Option<Vec<u8>> {
    let mut p = root.to_path_buf();
    for s in segments {
        let mut c = Path::new(s).components();
        // Each segment must be exactly one normal path component.
        match (c.next(), c.next()) {
            (Some(Component::Normal(_)), None) => p.push(s),
            _ => return None,
        }
    }
    let root = root.canonicalize().ok()?;
    let full = p.canonicalize().ok()?;
    if !full.starts_with(&root) {
        return None;
    }
    let meta = std::fs::metadata(&full).ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
        return None;
    }
    std::fs::read(&full).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_files_are_served_and_traversal_is_not() {
        let s = StaticFiles::default();
        let (body, ct) = s.get("/").unwrap();
        assert!(ct.starts_with("text/html"));
        assert!(String::from_utf8_lossy(&body).contains("<html"));
        assert_eq!(
            s.get("/app.js").unwrap().1,
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            s.get("/%61pp.js").unwrap().1,
            "text/javascript; charset=utf-8"
        );
        for bad in [
            "/../Cargo.toml",
            "/%2e%2e/Cargo.toml",
            "/%2E%2E%2fCargo.toml",
            "/./app.js",
            "//etc/passwd",
            "/..%5cCargo.toml",
            "/app.js%00",
            "/%zz",
            "/nope.js",
        ] {
            assert!(s.get(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_static_dir_serves_only_what_is_inside_it() {
        let base = std::env::temp_dir().join(format!("va-static-{}", std::process::id()));
        let root = base.join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("index.html"), "<html>dir</html>").unwrap();
        std::fs::write(root.join("sub/a.css"), "a{}").unwrap();
        std::fs::write(base.join("secret.txt"), "secret").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(base.join("secret.txt"), root.join("link.txt")).unwrap();
        let s = StaticFiles::new(Some(root.clone()));
        assert_eq!(&*s.get("/").unwrap().0, b"<html>dir</html>");
        assert_eq!(s.get("/sub/a.css").unwrap().1, "text/css; charset=utf-8");
        for bad in [
            "/../secret.txt",
            "/%2e%2e/secret.txt",
            "/sub/../../secret.txt",
            "/sub",
            "/link.txt",
        ] {
            assert!(s.get(bad).is_none(), "{bad}");
        }
        std::fs::remove_dir_all(&base).unwrap();
    }
}
