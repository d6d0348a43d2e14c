//! The embedded vector store's snapshot decoding (framed with a valid checksum, so the
//! fuzzer reaches the body), then searches over whatever state it decoded.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    cyberhub_vector::embedded::fuzzing::snapshot(data);
});
