//! The embedded vector store's write-ahead-log replay: the input is split into records at
//! 0xFF bytes, each framed with its length and a valid checksum, replayed onto an empty
//! collection, then searched.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let records: Vec<&[u8]> = data.split(|b| *b == 0xFF).collect();
    cyberhub_vector::embedded::fuzzing::log(&records);
});
