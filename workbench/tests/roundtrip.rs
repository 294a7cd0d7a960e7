//! End to end through the binary: synth -> export-release -> import keeps the content hash, for
//! CSV and Parquet; the generator's pseudonyms always pass the importer's identifier rules.

use std::path::Path;
use std::process::Command;

use workbench::hash::release_hash;
use workbench::import::identifiers::is_pseudonym;
use workbench::store::Store;
use workbench::synth::pseudonym;

fn workbench(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_workbench"))
        .args(args)
        .env(
            "WORKBENCH_HOME",
            std::env::temp_dir().join("workbench-roundtrip-home"),
        )
        .output()
        .expect("run workbench");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "workbench {args:?} failed:\n{text}");
    text
}

fn hash_of(store: &Path, release: &str) -> String {
    let s = Store::open(store).expect("open store");
    release_hash(s.conn(), release).expect("hash").release
}

#[test]
fn synth_export_import_keeps_the_content_hash() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.duckdb");
    let s = source.to_str().unwrap();
    workbench(&[
        "synth",
        "--children",
        "400",
        "--seed",
        "11",
        "--scenario",
        "default",
        "--out",
        s,
        "--release",
        "r-2025",
    ]);
    let original = hash_of(&source, "r-2025");
    let info = workbench(&["info", "--store", s]);
    assert!(
        info.contains(&original),
        "info shows the content hash:\n{info}"
    );

    for format in ["csv", "parquet"] {
        let files = dir.path().join(format!("files-{format}"));
        let copy = dir.path().join(format!("copy-{format}.duckdb"));
        workbench(&[
            "export-release",
            "--store",
            s,
            "--release",
            "r-2025",
            "--out",
            files.to_str().unwrap(),
            "--format",
            format,
        ]);
        let out = workbench(&[
            "import",
            "--store",
            copy.to_str().unwrap(),
            files.to_str().unwrap(),
        ]);
        assert!(
            out.contains(&original),
            "import reports the same hash:\n{out}"
        );
        assert_eq!(hash_of(&copy, "r-2025"), original, "{format} round trip");
    }
}

#[test]
fn generated_pseudonyms_always_pass_the_identifier_rules() {
    for seed in [1_u64, 2, 20_251_129] {
        for kind in ["child", "family"] {
            for index in 0..100_000 {
                let p = pseudonym(seed, kind, index);
                assert!(is_pseudonym(&p), "seed {seed} {kind} {index}");
            }
        }
    }
}
