//! Link options of the daemon binary.

fn main() {
    // Relative relocations packed (DT_RELR, glibc 2.36 and GNU ld 2.38 or later): the
    // dynamic loader reads a few KiB instead of about 250 KiB of `.rela.dyn` at every start,
    // which shortens start-up and the memory it touches (BENCHMARKS.md, "Memory").
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
}
