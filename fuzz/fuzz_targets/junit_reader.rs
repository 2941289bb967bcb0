//! The JUnit reader on arbitrary bytes: it must never panic, and whatever it reads,
//! the writer must write as JUnit that the reader reads back to the same cases.
#![no_main]

use dtf_core::junit::write::{JunitWriter, SuiteCounts, WriteLimits};
use dtf_core::junit::{JunitReader, ReadLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = ReadLimits {
        max_tag_bytes: 1 << 16,
        max_text_bytes: 1 << 16,
        max_field_bytes: 1 << 12,
    };
    let mut reader = JunitReader::with_limits(data, "fuzz.xml", limits);
    let mut cases = Vec::new();
    loop {
        match reader.next_case() {
            Ok(Some(c)) => cases.push(c),
            Ok(None) => break,
            Err(e) => {
                // Errors are located and printable.
                let _ = e.to_string();
                break;
            }
        }
    }
    let limits = WriteLimits {
        message: usize::MAX,
        details: usize::MAX,
        output: usize::MAX,
    };
    let mut w = JunitWriter::new(Vec::new(), limits);
    w.start("fuzz", &SuiteCounts::default()).expect("memory");
    w.start_suite("s", &SuiteCounts::default(), &[]).expect("memory");
    for c in &cases {
        w.write_case(c, &[]).expect("memory");
    }
    w.end_suite().expect("memory");
    let xml = w.finish().expect("memory");
    let again = dtf_core::junit::read_all(&xml[..], "again.xml")
        .unwrap_or_else(|e| panic!("the writer wrote unreadable JUnit: {e}\n{}", String::from_utf8_lossy(&xml)));
    assert_eq!(again.len(), cases.len());
    // XML 1.0 cannot carry most control characters (`&#27;` from coloured output is
    // read leniently); the writer replaces them.
    let xml_safe = |s: &str| -> String {
        s.chars()
            .map(|c| if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') { '\u{fffd}' } else { c })
            .collect()
    };
    for (a, b) in again.iter().zip(&cases) {
        assert_eq!(a.name, xml_safe(&b.name));
        assert_eq!(a.outcome(), b.outcome());
    }
});
