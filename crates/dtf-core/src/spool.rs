//! A temporary file of raw `<testcase>` elements, so a merge of millions of cases
//! keeps only a few dozen bytes per test in memory.
//!
//! Records are written once, in the order they were read, and read back mostly in the
//! same order (so a buffered sequential reader serves almost every read); the few
//! out-of-order reads (retries from later files) use positioned reads.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};

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
        })
    }

    /// Appends a record; returns its offset and length.
    pub fn push(&mut self, record: &[u8]) -> io::Result<(u64, u32)> {
        let len = u32::try_from(record.len())
            .map_err(|_| io::Error::other("a test case larger than 4 GiB"))?;
        self.out.write_all(record)?;
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

    /// The record's bytes, valid until the next read.
    pub fn read(&mut self, at: RecordRef) -> io::Result<&[u8]> {
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
        Ok(&self.buf)
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
