//! Links `oxpod` as a position-dependent executable: every oxpod command is
//! a short-lived process, and a PIE spends a measurable part of its life
//! applying thousands of dynamic relocations (and faulting in the pages
//! they touch) before `main`. Without PIE those are resolved at link time.

fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
}
