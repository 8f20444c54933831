//! Any bytes, as an envelope from a peer and as the plaintext inside a validly sealed one: never
//! a panic, the header check agrees with `open`, and whatever opens seals and opens again equal.

#![no_main]

use entry::{EnvelopeHeader, OpenError, fuzzing, open, seal};
use entry_fuzz::keys;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let keys = keys();

    // As received: almost never opens, but every early check runs on hostile input.
    let opened = open(keys, data);
    match (EnvelopeHeader::parse(data), &opened) {
        (Err(_), Ok(_)) => panic!("opened an envelope whose header is invalid"),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        (Ok(h), Err(OpenError::ForeignKey { found, .. })) => assert_eq!(h.key_id, *found),
        (Ok(h), _) => assert_eq!(h.key_id, keys.key_id()),
    }
    if let Ok(entry) = opened {
        round_trip(&entry);
    }

    // As plaintext: reaches the inner decoder with arbitrary bytes behind a valid tag.
    let envelope = fuzzing::seal_plaintext(keys, data, [7; 12]);
    if let Ok(entry) = open(keys, &envelope) {
        round_trip(&entry);
    }
});

fn round_trip(entry: &entry::SharedEntry) {
    let keys = keys();
    if let Ok(sealed) = seal(keys, entry) {
        entry::verify_cid(&sealed.cid, &sealed.envelope).expect("fresh envelope matches its CID");
        let again = open(keys, &sealed.envelope).expect("a fresh envelope opens");
        assert_eq!(&again, entry);
    }
}
