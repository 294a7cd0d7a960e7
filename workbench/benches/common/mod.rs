//! The synthetic stores the benches run on: the one `env_var` names, else one of `children`
//! children (default scenario, seed 7) generated once into $HOME/.cache/workbench-bench/.

use std::path::PathBuf;

use workbench::store::Store;
use workbench::synth::{SynthOptions, config::Scenario, generate_into_store};

pub fn store(env_var: &str, children: u64) -> PathBuf {
    if let Some(p) = std::env::var_os(env_var) {
        return PathBuf::from(p);
    }
    let dir =
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/workbench-bench");
    let path = dir.join(format!("default-{children}.duckdb"));
    if !path.exists() {
        std::fs::create_dir_all(&dir).expect("bench dir");
        let mut store = Store::open_or_create(&path).expect("store");
        let opts = SynthOptions::new(Scenario::Default, children, 7, None).expect("options");
        generate_into_store(&mut store, &opts).expect("synth");
    }
    path
}
