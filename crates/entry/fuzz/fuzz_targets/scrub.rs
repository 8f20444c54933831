//! Any bytes through the scrubber: never a panic, idempotent, and no GitHub token survives.

#![no_main]

use entry::Scrubber;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static SCRUBBER: OnceLock<Scrubber> = OnceLock::new();
    let scrubber = SCRUBBER.get_or_init(|| Scrubber::new(&["corp-[0-9]{6}"]).unwrap());
    let once = scrubber.scrub(data).into_owned();
    let twice = scrubber.scrub(&once);
    assert_eq!(once, twice.as_ref(), "scrubbing twice changed the output");
    if let Ok(text) = std::str::from_utf8(data) {
        let mut headers = vec![
            ("x-note".to_owned(), text.to_owned()),
            ("set-cookie".to_owned(), text.to_owned()),
        ];
        scrubber.scrub_headers(&mut headers);
        assert_eq!(headers.len(), 1);
    }
});
