//! Layer compression: a blob's format told by its first bytes, and a reader
//! of its plain tar. gzip always; zstd with the `zstd` cargo feature
//! (`ruzstd`, pure Rust: no C build), every frame of the stream decoded in
//! turn and skippable frames (zstd:chunked's metadata) stepped over.

use std::io::{BufRead, BufReader, Read};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// A plain tar.
    #[default]
    None,
    /// gzip (one or several members).
    Gzip,
    /// zstd (one or several frames).
    Zstd,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

impl Compression {
    /// The format whose magic `head` (a blob's first bytes) starts with.
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&GZIP_MAGIC) {
            Compression::Gzip
        } else if head.starts_with(&ZSTD_MAGIC) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// Whether this build can decompress it.
    pub fn supported(self) -> bool {
        self != Compression::Zstd || cfg!(feature = "zstd")
    }
}

/// The plain tar of a layer blob, its compression detected from its first
/// bytes. `layer` names it in errors.
pub fn decompressed<'a>(layer: &str, blob: impl Read + 'a) -> Result<Box<dyn Read + 'a>> {
    let mut input = BufReader::with_capacity(128 << 10, blob);
    let head = input
        .fill_buf()
        .map_err(|source| Error::BadTar {
            layer: layer.to_owned(),
            source,
        })?
        .to_vec();
    Ok(match Compression::detect(&head) {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        Compression::Zstd => zstd(layer, input)?,
        Compression::None => Box::new(input),
    })
}

#[cfg(not(feature = "zstd"))]
fn zstd<'a>(layer: &str, _input: BufReader<impl Read + 'a>) -> Result<Box<dyn Read + 'a>> {
    Err(Error::Compression {
        layer: layer.to_owned(),
        format: "zstd",
    })
}

#[cfg(feature = "zstd")]
fn zstd<'a>(_layer: &str, input: BufReader<impl Read + 'a>) -> Result<Box<dyn Read + 'a>> {
    Ok(Box::new(frames::Frames::new(input)))
}

#[cfg(feature = "zstd")]
mod frames {
    use std::io::{self, Read};

    use ruzstd::decoding::{FrameDecoder, StreamingDecoder};

    /// Skippable frames have magics 0x184D2A50..=0x184D2A5F.
    fn skippable(magic: u32) -> bool {
        magic & 0xFFFF_FFF0 == 0x184D_2A50
    }

    /// A source with a few bytes pushed back in front of it (the magic
    /// read to tell a frame's kind).
    pub(super) struct Pushback<R> {
        head: [u8; 4],
        pos: usize,
        len: usize,
        inner: R,
    }

    impl<R: Read> Read for Pushback<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.pos < self.len {
                let n = buf.len().min(self.len - self.pos);
                buf[..n].copy_from_slice(&self.head[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            self.inner.read(buf)
        }
    }

    enum State<R: Read> {
        /// Between frames.
        Between(R),
        /// Inside a frame.
        Frame(Box<StreamingDecoder<Pushback<R>, FrameDecoder>>),
        /// After the end or an error.
        Done,
    }

    /// Every frame of a zstd stream, decoded in turn.
    pub(super) struct Frames<R: Read> {
        state: State<R>,
    }

    impl<R: Read> Frames<R> {
        pub(super) fn new(inner: R) -> Self {
            Frames {
                state: State::Between(inner),
            }
        }
    }

    /// Reads up to `buf.len()` bytes, fewer only at the end of the stream.
    fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
        let mut got = 0;
        while got < buf.len() {
            match r.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(got)
    }

    fn bad(what: impl std::fmt::Display) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, format!("zstd: {what}"))
    }

    impl<R: Read> Read for Frames<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if buf.is_empty() {
                return Ok(0);
            }
            loop {
                match std::mem::replace(&mut self.state, State::Done) {
                    State::Done => return Ok(0),
                    State::Frame(mut d) => {
                        let n = d.read(buf)?;
                        if n > 0 {
                            self.state = State::Frame(d);
                            return Ok(n);
                        }
                        // The content checksum, where the frame has one.
                        if let (Some(want), Some(got)) = (
                            d.decoder.get_checksum_from_data(),
                            d.decoder.get_calculated_checksum(),
                        ) && want != got
                        {
                            return Err(bad(format!(
                                "frame checksum {got:08x} does not match the stored {want:08x}"
                            )));
                        }
                        let p = d.into_inner();
                        if p.pos < p.len {
                            return Err(bad("a frame ended inside its own header"));
                        }
                        self.state = State::Between(p.inner);
                    }
                    State::Between(mut inner) => {
                        let mut head = [0u8; 4];
                        match read_full(&mut inner, &mut head)? {
                            0 => return Ok(0),
                            4 => {}
                            n => return Err(bad(format!("{n} stray bytes after the last frame"))),
                        }
                        let magic = u32::from_le_bytes(head);
                        if skippable(magic) {
                            let mut len = [0u8; 4];
                            if read_full(&mut inner, &mut len)? != 4 {
                                return Err(bad("a skippable frame without its length"));
                            }
                            let len = u64::from(u32::from_le_bytes(len));
                            let skipped = io::copy(&mut (&mut inner).take(len), &mut io::sink())?;
                            if skipped != len {
                                return Err(bad("a skippable frame cut short"));
                            }
                            self.state = State::Between(inner);
                            continue;
                        }
                        let source = Pushback {
                            head,
                            pos: 0,
                            len: 4,
                            inner,
                        };
                        let d = StreamingDecoder::new(source).map_err(bad)?;
                        self.state = State::Frame(Box::new(d));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(blob: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        decompressed("t", blob)?
            .read_to_end(&mut out)
            .map_err(|source| Error::BadTar {
                layer: "t".into(),
                source,
            })?;
        Ok(out)
    }

    #[test]
    fn formats_are_told_by_their_magic() {
        assert_eq!(Compression::detect(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(
            Compression::detect(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Compression::Zstd
        );
        assert_eq!(Compression::detect(b"ustar"), Compression::None);
        assert_eq!(Compression::detect(b""), Compression::None);
        assert_eq!(plain(b"just bytes").expect("plain"), b"just bytes");
    }

    #[cfg(not(feature = "zstd"))]
    #[test]
    fn zstd_without_the_feature_is_refused_by_name() {
        let r = plain(&[0x28, 0xb5, 0x2f, 0xfd, 0, 0]);
        assert!(matches!(r, Err(Error::Compression { format: "zstd", .. })));
    }

    #[cfg(feature = "zstd")]
    mod zstd {
        use super::*;

        fn compress(data: &[u8]) -> Vec<u8> {
            ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
        }

        #[test]
        fn several_frames_and_skippable_frames_decode_in_order() {
            let a: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
            let b = b"second frame".to_vec();
            let mut blob = compress(&a);
            // A skippable frame between (zstd:chunked puts its metadata in one).
            blob.extend_from_slice(&0x184D_2A53u32.to_le_bytes());
            blob.extend_from_slice(&5u32.to_le_bytes());
            blob.extend_from_slice(b"meta!");
            blob.extend_from_slice(&compress(&b));
            let mut want = a.clone();
            want.extend_from_slice(&b);
            assert_eq!(plain(&blob).expect("decode"), want);
        }

        #[test]
        fn damaged_streams_are_errors_never_panics() {
            let good = compress(b"some layer bytes, repeated, repeated, repeated");
            for cut in 1..good.len() {
                let _ = plain(&good[..cut]);
            }
            for i in 4..good.len() {
                let mut bad = good.clone();
                bad[i] ^= 0xff;
                let _ = plain(&bad);
            }
            let mut trailing = good.clone();
            trailing.extend_from_slice(&[1, 2]);
            assert!(plain(&trailing).is_err());
            let mut skip_short = good;
            skip_short.extend_from_slice(&0x184D_2A50u32.to_le_bytes());
            skip_short.extend_from_slice(&100u32.to_le_bytes());
            assert!(plain(&skip_short).is_err());
        }
    }
}
