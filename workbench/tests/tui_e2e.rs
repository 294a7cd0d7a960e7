//! End-to-end tests of the terminal UI: the real binary runs inside `tmux` on a small synthetic
//! store; keys go in with `send-keys` and the screen comes back with `capture-pane`. The test
//! opens the UI, switches a rule off and sees the cohort grow, opens a cumulative-incidence and
//! a Kaplan–Meier curve, runs a Cox model, opens the dashboard and quits. Without tmux the tests
//! print a notice and pass (CI installs tmux).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use workbench::store::Store;
use workbench::synth::{self, Scenario, SynthOptions};

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn synth_store(path: &Path) {
    let opts = SynthOptions::new(Scenario::Default, 3000, 17, None).expect("options");
    let mut store = Store::open_or_create(path).expect("store");
    synth::generate_into_store(&mut store, &opts).expect("synth");
}

/// A tmux server of our own (its own socket), killed on drop.
struct Tmux {
    socket: String,
    session: String,
    /// Where the command's exit status is written (see [`command`]).
    status_file: PathBuf,
}

impl Tmux {
    fn start(name: &str, width: u16, height: u16, command: &TmuxCommand) -> Tmux {
        let t = Tmux {
            socket: format!("wb-{name}-{}", std::process::id()),
            session: "ui".into(),
            status_file: command.status_file.clone(),
        };
        let ok = Command::new("tmux")
            .args([
                "-u",
                "-L",
                &t.socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                &t.session,
            ])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .arg(&command.line)
            .status()
            .expect("tmux new-session");
        assert!(ok.success(), "tmux new-session failed");
        t.tmux(&["set-option", "-t", "ui", "remain-on-exit", "on"]);
        // Pass Esc on at once: with tmux's default delay an Esc followed by a key arrives as Alt+key.
        t.tmux(&["set-option", "-s", "escape-time", "0"]);
        t
    }

    fn tmux(&self, args: &[&str]) -> String {
        let o = Command::new("tmux")
            .args(["-u", "-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux");
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn send(&self, keys: &[&str]) {
        for k in keys {
            self.tmux(&["send-keys", "-t", &self.session, k]);
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", &self.session])
    }

    /// Waits until the screen satisfies `pred`; panics with the last screen after `secs`.
    fn wait_for(&self, what: &str, secs: u64, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if start.elapsed() > Duration::from_secs(secs) {
                panic!("waited {secs} s for {what}; the screen is:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The program's exit status, once it has exited. Read from the file the command writes
    /// rather than from tmux, which can mark a pane dead before it has reaped the process.
    fn exit_status(&self) -> Option<i32> {
        std::fs::read_to_string(&self.status_file)
            .ok()
            .filter(|s| s.ends_with('\n'))
            .and_then(|s| s.trim().parse().ok())
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

/// The cohort size printed on the cohort screen ("Cohort size: 1 234 children").
fn cohort_size(screen: &str) -> Option<u64> {
    let line = screen.lines().find(|l| l.contains("Cohort size:"))?;
    let after = line.split("Cohort size:").nth(1)?;
    let digits: String = after
        .split("children")
        .next()?
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// A command line for tmux that runs the workbench and writes its exit status to a file.
struct TmuxCommand {
    line: String,
    status_file: PathBuf,
}

fn command(bin: &str, home: &Path, args: &str) -> TmuxCommand {
    let status_file = home.join("exit-status");
    TmuxCommand {
        line: format!(
            "env WORKBENCH_HOME={} WORKBENCH_CONFIG=/nonexistent LANG=C.UTF-8 {bin} {args}; \
             echo $? > {}",
            home.display(),
            status_file.display()
        ),
        status_file,
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    home: PathBuf,
    store: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let store = dir.path().join("s.duckdb");
    synth_store(&store);
    Fixture {
        _dir: dir,
        home,
        store,
    }
}

#[test]
fn researcher_methodologist_and_manager_in_tmux() {
    if !tmux_available() {
        println!("tmux is not installed: skipping the end-to-end test of the terminal UI");
        return;
    }
    let f = fixture();
    let bin = env!("CARGO_BIN_EXE_workbench");
    let cmd = command(
        bin,
        &f.home,
        &format!("tui --store {} --lang en", f.store.display()),
    );
    let t = Tmux::start("full", 100, 32, &cmd);

    // 1. open: the attrition of the default protocol
    let s = t.wait_for("the cohort size", 120, |s| cohort_size(s).is_some());
    assert!(
        s.contains("Rules") && s.contains("Attrition") && s.contains("first-ever episode"),
        "{s}"
    );
    let before = cohort_size(&s).expect("size");
    assert!(before > 100, "cohort of {before}\n{s}");

    // 2. switch "first-ever episode" (the third rule) off: the cohort grows
    t.send(&["j", "j", "j", "Space"]);
    let s = t.wait_for("a larger cohort", 120, |s| {
        cohort_size(s).is_some_and(|n| n > before)
    });
    assert!(s.contains("[ ] first-ever episode (off)"), "{s}");
    let after = cohort_size(&s).expect("size");
    assert!(after > before);

    // 3. the outcome explorer: cumulative incidence with the number at risk, then Kaplan–Meier
    t.send(&["2"]);
    let s = t.wait_for("the curve of P1.1", 240, |s| {
        s.contains("CIF at 90") && s.contains("days")
    });
    assert!(s.contains("cumulative incidence (Aalen–Johansen)"), "{s}");
    assert!(s.contains("VL") && s.contains("FWB"), "{s}");
    assert!(
        s.contains('⣀')
            || s.contains('⠤')
            || s.chars().any(|c| ('\u{2800}'..='\u{28FF}').contains(&c)),
        "no braille curve:\n{s}"
    );
    t.send(&["c"]);
    let s = t.wait_for("the Kaplan–Meier curve", 30, |s| s.contains("S(t) at 90"));
    assert!(s.contains("Kaplan–Meier"), "{s}");

    // 4. the model screen: run the Cox model
    t.send(&["3", "Enter"]);
    let s = t.wait_for("the Cox table", 240, |s| {
        s.contains("95% CI") && s.contains("HR")
    });
    assert!(s.contains("Cox") || s.contains("cox"), "{s}");
    t.send(&["Tab", "j", "j", "j", "j", "j", "j", "j", "j", "j", "j"]);
    t.wait_for(
        "the proportional hazards test or the weighting section",
        30,
        |s| s.contains("proportional hazards") || s.contains("not run") || s.contains("Propensity"),
    );

    // 5. the dashboard
    t.send(&["4"]);
    let s = t.wait_for("the dashboard", 240, |s| {
        s.contains("unique children") && s.contains("median days to safety")
    });
    assert!(
        s.contains("VL (VK)") && s.contains("FWB (SOS Enfants)"),
        "{s}"
    );

    // 6. help, then quit
    t.send(&["?"]);
    t.wait_for("the help", 10, |s| {
        s.contains("Keys") && s.contains("refresh")
    });
    t.send(&["Escape"]);
    t.wait_for("the help to close", 10, |s| !s.contains("Esc or ? closes"));
    t.send(&["q"]);
    let start = Instant::now();
    loop {
        if let Some(code) = t.exit_status() {
            assert_eq!(code, 0, "the UI exited with {code}:\n{}", t.screen());
            break;
        }
        if start.elapsed() > Duration::from_secs(20) {
            // work may still be running: the UI asks to confirm
            let s = t.screen();
            assert!(s.contains("Quit anyway"), "q did not quit:\n{s}");
            t.send(&["y"]);
        }
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "q did not quit:\n{}",
            t.screen()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_dashboard_alone_in_tmux() {
    if !tmux_available() {
        println!("tmux is not installed: skipping the end-to-end test of the dashboard");
        return;
    }
    let f = fixture();
    let bin = env!("CARGO_BIN_EXE_workbench");
    let cmd = command(
        bin,
        &f.home,
        &format!("dashboard --store {} --lang nl", f.store.display()),
    );
    let t = Tmux::start("dash", 80, 24, &cmd);
    let s = t.wait_for("the dashboard", 240, |s| s.contains("unieke kinderen"));
    assert!(
        s.contains("Dashboard") && !s.contains("Cohort") && !s.contains("Modellen"),
        "{s}"
    );
    // no key leads to another screen
    t.send(&["1", "2", "3", "Tab", "Enter"]);
    let s = t.screen();
    assert!(!s.contains("Regels") && !s.contains("Uitkomsten"), "{s}");
    t.send(&["q"]);
    let start = Instant::now();
    while t.exit_status().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "q did not quit:\n{}",
            t.screen()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn without_a_terminal_demo_prints_the_summary_and_the_ui_refuses() {
    let f = fixture();
    std::fs::copy(&f.store, f.home.join("demo.duckdb")).expect("copy");
    let bin = env!("CARGO_BIN_EXE_workbench");
    let out = Command::new(bin)
        .arg("demo")
        .env("WORKBENCH_HOME", &f.home)
        .env("WORKBENCH_CONFIG", "/nonexistent")
        .output()
        .expect("run demo");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("Demo store:") && text.contains("Children by community"),
        "{text}"
    );
    let out = Command::new(bin)
        .env("WORKBENCH_HOME", &f.home)
        .env("WORKBENCH_CONFIG", "/nonexistent")
        .output()
        .expect("run workbench");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a terminal"));
}
