//! Embeds the shipped OFAC snapshot (`data/ofac/`) so the binary screens with no files beside
//! it; `compliance.ofac_dir` points the gateway at a folder it re-reads instead.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path
            .file_name()
            .is_some_and(|n| n != "README.md" && n != "UPSTREAM_README.md")
        {
            out.push(path);
        }
    }
}

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest).join("../data/ofac");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();
    let mut code =
        String::from("/// `(path relative to data/ofac, contents)` of the shipped snapshot.\n");
    code.push_str("pub static OFAC_FILES: &[(&str, &str)] = &[\n");
    for file in &files {
        let relative = file.strip_prefix(&root).expect("under root");
        let relative = relative.to_string_lossy().replace('\\', "/");
        let absolute = file.canonicalize().expect("shipped file exists");
        let _ = writeln!(
            code,
            "    ({relative:?}, include_str!({:?})),",
            absolute.display().to_string()
        );
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("ofac_embedded.rs"), code).expect("write generated file");
}
