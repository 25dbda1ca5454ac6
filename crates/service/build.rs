//! Link options of the daemon binary.

fn main() {
    // Relative relocations packed (DT_RELR, glibc 2.36 and GNU ld 2.38 or later): the
    // dynamic loader reads a few KiB instead of about 250 KiB of `.rela.dyn` at every start,
    // which shortens start-up and the memory it touches (BENCHMARKS.md, "Memory").
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");

    // The functions the daemon runs from start-up to idle, side by side at the start of
    // `.text` (`startup.order`, written by bench/startup-order.sh). Scattered, they are 1.4 MiB
    // of pages and, with the kernel mapping 64 KiB around each fault, 3 MiB of resident code;
    // together they are 0.6 MiB (BENCHMARKS.md, "Memory"). Names the build no longer has are
    // skipped, so a stale list costs memory, never correctness. Only lld reads the list.
    println!("cargo:rerun-if-changed=startup.order");
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    if std::env::var("PROFILE").as_deref() == Ok("release") && links_with_lld() {
        let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
        println!(
            "cargo:rustc-link-arg-bin=parsec=-Wl,--symbol-ordering-file={manifest}/startup.order"
        );
        println!("cargo:rustc-link-arg-bin=parsec=-Wl,--no-warn-symbol-ordering");
    }
}

/// Whether the final link is lld's: rustc 1.90 and later link x86_64-unknown-linux-gnu with
/// their own lld unless the flags choose another linker (older rustc use the system's `ld`,
/// which does not know `--symbol-ordering-file`).
fn links_with_lld() -> bool {
    if std::env::var("TARGET").as_deref() != Ok("x86_64-unknown-linux-gnu") {
        return false;
    }
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let chooses_linker = [
        "link-self-contained",
        "linker-features",
        "linker-flavor",
        "fuse-ld",
    ]
    .iter()
    .any(|f| flags.contains(f));
    if chooses_linker {
        return false;
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let Ok(out) = std::process::Command::new(rustc).arg("-vV").output() else {
        return false;
    };
    let release = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("release: ").map(str::to_string));
    let version = release.and_then(|v| {
        let mut parts = v.split(['.', '-']);
        let major: u32 = parts.next()?.parse().ok()?;
        let minor: u32 = parts.next()?.parse().ok()?;
        Some((major, minor))
    });
    matches!(version, Some(v) if v >= (1, 90))
}
