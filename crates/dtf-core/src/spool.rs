//! A temporary file of encoded test cases, so a merge of millions of cases keeps only
//! a few dozen bytes per test in memory.
//!
//! Records are written once, in the order they were read, and read back mostly in the
//! same order (so a buffered sequential reader serves almost every read); the few
//! out-of-order reads (retries from later files) use positioned reads.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};

use crate::model::{Detail, Outcome, OutcomeField, Rerun, TestCase};

/// Where a record lives: which spool, at what offset, how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RecordRef {
    pub spool: u32,
    pub offset: u64,
    pub len: u32,
}

pub(crate) struct SpoolWriter {
    out: BufWriter<File>,
    offset: u64,
    scratch: Vec<u8>,
}

impl SpoolWriter {
    pub fn new(dir: Option<&std::path::Path>) -> io::Result<Self> {
        let file = match dir {
            Some(d) => tempfile::tempfile_in(d)?,
            None => tempfile::tempfile()?,
        };
        Ok(SpoolWriter {
            out: BufWriter::with_capacity(1 << 20, file),
            offset: 0,
            scratch: Vec::with_capacity(4096),
        })
    }

    /// Appends a case; returns its offset and length.
    pub fn push(&mut self, case: &TestCase) -> io::Result<(u64, u32)> {
        self.scratch.clear();
        encode_case(case, &mut self.scratch);
        let len = u32::try_from(self.scratch.len())
            .map_err(|_| io::Error::other("a test case larger than 4 GiB"))?;
        self.out.write_all(&self.scratch)?;
        let at = self.offset;
        self.offset += u64::from(len);
        Ok((at, len))
    }

    pub fn finish(self) -> io::Result<File> {
        self.out.into_inner().map_err(|e| e.into_error())
    }
}

/// Reads records back: sequentially through a buffer when possible, by position
/// otherwise.
pub(crate) struct SpoolReader<'a> {
    files: &'a [File],
    sequential: Vec<Option<(BufReader<&'a File>, u64)>>,
    buf: Vec<u8>,
}

impl<'a> SpoolReader<'a> {
    pub fn new(files: &'a [File]) -> Self {
        SpoolReader {
            files,
            sequential: (0..files.len()).map(|_| None).collect(),
            buf: Vec::new(),
        }
    }

    pub fn read(&mut self, at: RecordRef) -> io::Result<TestCase> {
        let spool = at.spool as usize;
        let file = self
            .files
            .get(spool)
            .ok_or_else(|| io::Error::other("spool index out of range"))?;
        self.buf.resize(at.len as usize, 0);
        let slot = &mut self.sequential[spool];
        match slot {
            Some((reader, pos)) if *pos == at.offset => {
                reader.read_exact(&mut self.buf)?;
                *pos += u64::from(at.len);
            }
            Some((reader, pos)) if at.offset > *pos && at.offset - *pos < (256 << 10) => {
                reader.seek_relative((at.offset - *pos) as i64)?;
                reader.read_exact(&mut self.buf)?;
                *pos = at.offset + u64::from(at.len);
            }
            Some(_) => read_at(file, &mut self.buf, at.offset)?,
            None => {
                let mut reader = BufReader::with_capacity(1 << 20, file);
                reader.seek(SeekFrom::Start(at.offset))?;
                reader.read_exact(&mut self.buf)?;
                *slot = Some((reader, at.offset + u64::from(at.len)));
            }
        }
        decode_case(&self.buf).ok_or_else(|| io::Error::other("corrupt spool record"))
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        let n = file.seek_read(buf, offset)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
        offset += n as u64;
    }
    Ok(())
}

fn put_len(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn put_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(0),
        Some(s) => {
            put_len(out, s.len() as u64 + 1);
            out.extend_from_slice(s.as_bytes());
        }
    }
}

fn put_f64(out: &mut Vec<u8>, v: Option<f64>) {
    // NaN never comes out of the reader, so it can stand for "none".
    out.extend_from_slice(&v.unwrap_or(f64::NAN).to_le_bytes());
}

fn outcome_byte(o: Outcome) -> u8 {
    match o {
        Outcome::Passed => 0,
        Outcome::Skipped => 1,
        Outcome::Failed => 2,
        Outcome::Errored => 3,
    }
}

fn byte_outcome(b: u8) -> Option<Outcome> {
    Some(match b {
        0 => Outcome::Passed,
        1 => Outcome::Skipped,
        2 => Outcome::Failed,
        3 => Outcome::Errored,
        _ => return None,
    })
}

fn put_detail(out: &mut Vec<u8>, d: &Detail) {
    put_opt(out, d.message.as_deref());
    put_opt(out, d.failure_type.as_deref());
    put_opt(out, d.details.as_deref());
}

pub(crate) fn encode_case(c: &TestCase, out: &mut Vec<u8>) {
    out.push(outcome_byte(c.outcome()));
    put_str(out, &c.suite);
    put_opt(out, c.classname.as_deref());
    put_str(out, &c.name);
    put_opt(out, c.file.as_deref());
    put_len(out, c.line.map_or(0, |l| u64::from(l) + 1));
    put_f64(out, c.duration);
    put_detail(out, &c.detail);
    put_opt(out, c.stdout.as_deref());
    put_opt(out, c.stderr.as_deref());
    put_len(out, c.properties.len() as u64);
    for (k, v) in &c.properties {
        put_str(out, k);
        put_str(out, v);
    }
    put_len(out, c.reruns.len() as u64);
    for r in &c.reruns {
        out.push(outcome_byte(r.outcome));
        put_detail(out, &r.detail);
        put_opt(out, r.stdout.as_deref());
        put_opt(out, r.stderr.as_deref());
        put_f64(out, r.duration);
    }
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn len(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn string(&mut self) -> Option<String> {
        let n = usize::try_from(self.len()?).ok()?;
        String::from_utf8(self.bytes(n)?.to_vec()).ok()
    }
    fn opt(&mut self) -> Option<Option<String>> {
        let n = usize::try_from(self.len()?).ok()?;
        if n == 0 {
            return Some(None);
        }
        Some(Some(String::from_utf8(self.bytes(n - 1)?.to_vec()).ok()?))
    }
    fn f64(&mut self) -> Option<Option<f64>> {
        let v = f64::from_le_bytes(self.bytes(8)?.try_into().ok()?);
        Some((!v.is_nan()).then_some(v))
    }
    fn detail(&mut self) -> Option<Detail> {
        Some(Detail {
            message: self.opt()?,
            failure_type: self.opt()?,
            details: self.opt()?,
        })
    }
}

pub(crate) fn decode_case(bytes: &[u8]) -> Option<TestCase> {
    let mut c = Cursor(bytes);
    let outcome = byte_outcome(c.byte()?)?;
    let suite = c.string()?;
    let classname = c.opt()?;
    let name = c.string()?;
    let file = c.opt()?;
    let line = match c.len()? {
        0 => None,
        l => Some(u32::try_from(l - 1).ok()?),
    };
    let duration = c.f64()?;
    let detail = c.detail()?;
    let stdout = c.opt()?;
    let stderr = c.opt()?;
    let n = c.len()?;
    let mut properties = Vec::new();
    for _ in 0..n {
        properties.push((c.string()?, c.string()?));
    }
    let n = c.len()?;
    let mut reruns = Vec::new();
    for _ in 0..n {
        reruns.push(Rerun {
            outcome: byte_outcome(c.byte()?)?,
            detail: c.detail()?,
            stdout: c.opt()?,
            stderr: c.opt()?,
            duration: c.f64()?,
        });
    }
    Some(TestCase {
        suite,
        classname,
        name,
        file,
        line,
        duration,
        outcome: OutcomeField(outcome),
        detail,
        stdout,
        stderr,
        properties,
        reruns,
    })
}
