//! Writes the starting corpus for `open_envelope` into `seeds/open_envelope/`: valid envelopes
//! and plaintexts, so the fuzzer starts from inputs that pass every check. Run from `fuzz/`:
//! `cargo +nightly run --bin make_seeds`.

use entry::fuzzing;
use entry_fuzz::{keys, sample_entry};

fn main() -> std::io::Result<()> {
    let dir = std::path::Path::new("seeds/open_envelope");
    std::fs::create_dir_all(dir)?;
    for (name, body) in [
        ("empty", &b""[..]),
        ("issue", br#"[{"id":1,"updated_at":"2024-01-31T12:00:00Z"}]"#),
    ] {
        let entry = sample_entry(body);
        let sealed = fuzzing::seal_with_nonce(keys(), &entry, [1; 12]).expect("small entries seal");
        std::fs::write(dir.join(format!("envelope-{name}")), &sealed.envelope)?;
        std::fs::write(dir.join(format!("plaintext-{name}")), fuzzing::plaintext(&entry))?;
    }
    Ok(())
}
