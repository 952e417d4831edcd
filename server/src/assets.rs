//! The built page held in memory, each file compressed once at start-up (brotli and gzip), and
//! the choice of encoding a request's `Accept-Encoding` asks for.
//!
//! Compressing per request would cost CPU on every page load (brotli at quality 11 takes a few
//! hundred milliseconds for the ~220 KB wasm); compressing once makes the smallest encoding free
//! to serve. The files are read once too, so what is served is one consistent snapshot of the
//! build, and so is the Content-Security-Policy computed from its `index.html`. A new build is
//! served once the server restarts.

use std::{
    collections::HashMap,
    io::{self, Write as _},
    path::{Path, PathBuf},
    sync::atomic::{AtomicUsize, Ordering},
    thread,
};

use actix_web::{
    http::header::{
        AcceptEncoding, ContentEncoding, Encoding as CodingName, EntityTag, HeaderValue,
        Preference, Quality,
    },
    mime,
    web::Bytes,
};
use sha2::{Digest, Sha256};

/// Files below this size are sent as they are: a compressed copy would save a few hundred
/// bytes at most, less than the headers that announce it.
const MIN_COMPRESS_SIZE: usize = 1024;
/// Files above this size are not held in memory (a built page has none); they are left to the
/// file service.
const MAX_FILE_SIZE: u64 = 16 * 1024 * 1024;
/// brotli's best (and slowest) setting: paid once per file at start-up.
const BROTLI_QUALITY: i32 = 11;
/// brotli's largest standard window (4 MiB), which every browser decodes.
const BROTLI_WINDOW: i32 = 22;

/// A content coding this server can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// Brotli (`br`).
    Brotli,
    /// Gzip (`gzip`).
    Gzip,
    /// The file as it is.
    Identity,
}

impl Coding {
    /// In the server's order of preference when the client likes several equally.
    const PREFERENCE: [Self; 3] = [Self::Brotli, Self::Gzip, Self::Identity];

    /// The `Content-Encoding` token.
    pub fn token(self) -> &'static str {
        match self {
            Self::Brotli => "br",
            Self::Gzip => "gzip",
            Self::Identity => "identity",
        }
    }

    fn name(self) -> CodingName {
        CodingName::Known(match self {
            Self::Brotli => ContentEncoding::Brotli,
            Self::Gzip => ContentEncoding::Gzip,
            Self::Identity => ContentEncoding::Identity,
        })
    }
}

/// One file of the build.
#[derive(Debug, Clone)]
pub struct Asset {
    /// `Content-Type`, chosen by extension the way `actix-files` does (UTF-8 for text).
    pub content_type: HeaderValue,
    /// The file's bytes.
    pub identity: Bytes,
    /// Brotli-compressed, when that is worth it.
    pub brotli: Option<Bytes>,
    /// Gzip-compressed, when that is worth it.
    pub gzip: Option<Bytes>,
    /// Content hash shared by the ETags of every encoding (each adds its own suffix).
    hash: String,
}

impl Asset {
    /// The bytes of the file in `coding`, if the asset has that encoding.
    pub fn body(&self, coding: Coding) -> Option<&Bytes> {
        match coding {
            Coding::Brotli => self.brotli.as_ref(),
            Coding::Gzip => self.gzip.as_ref(),
            Coding::Identity => Some(&self.identity),
        }
    }

    /// Whether the answer depends on `Accept-Encoding` (then responses say
    /// `Vary: Accept-Encoding`).
    pub fn has_encodings(&self) -> bool {
        self.brotli.is_some() || self.gzip.is_some()
    }

    /// A strong ETag per encoding: the bytes differ, so the tags must too.
    pub fn etag(&self, coding: Coding) -> EntityTag {
        let tag = match coding {
            Coding::Identity => self.hash.clone(),
            Coding::Brotli => format!("{}.br", self.hash),
            Coding::Gzip => format!("{}.gz", self.hash),
        };
        EntityTag::new_strong(tag)
    }

    /// The encoding to send for `accept` (the request's parsed `Accept-Encoding`, `None` when it
    /// has none or an unreadable one), among those this asset has.
    ///
    /// Each coding's weight is its own `q`, else that of `*`, else 0, except that `identity`
    /// unnamed is acceptable at the lowest weight (RFC 9110 section 12.5.3); the heaviest
    /// non-zero one wins, brotli before gzip before identity on a tie.
    /// No header means identity (a client that sends none may not decode anything), and so does
    /// a header that accepts nothing this asset has.
    pub fn negotiate(&self, accept: Option<&AcceptEncoding>) -> Coding {
        let Some(accept) = accept else {
            return Coding::Identity;
        };
        let weight = |coding: Coding| {
            let listed = |wanted: &Preference<CodingName>| {
                accept
                    .iter()
                    .find(|item| &item.item == wanted)
                    .map(|item| item.quality)
            };
            listed(&Preference::Specific(coding.name()))
                .or_else(|| listed(&Preference::Any))
                .unwrap_or(if coding == Coding::Identity {
                    Quality::MIN
                } else {
                    Quality::ZERO
                })
        };
        let mut best = (Quality::ZERO, Coding::Identity);
        for coding in Coding::PREFERENCE {
            if self.body(coding).is_none() {
                continue;
            }
            let quality = weight(coding);
            if quality > best.0 {
                best = (quality, coding);
            }
        }
        best.1
    }
}

/// Every file of a built page, by URL path (`/index.html`, `/frontend-1a2b.js`).
#[derive(Debug, Default)]
pub struct Assets {
    files: HashMap<String, Asset>,
}

impl Assets {
    /// Reads every regular, non-hidden file under `dir` and compresses each one worth it with
    /// brotli and gzip, spread over the machine's cores. Blocks for as long as that takes (0.4 s for
    /// the built page on a quiet 2-core machine, 0.7 s on a busy one): call it from a blocking
    /// thread.
    pub fn load(dir: &Path) -> io::Result<Self> {
        let mut paths = Vec::new();
        collect_files(dir, dir, &mut paths)?;
        let mut files = HashMap::with_capacity(paths.len());
        let mut jobs = Vec::new();
        for (url, path) in paths {
            let identity = Bytes::from(std::fs::read(&path)?);
            let extension = path.extension().and_then(|ext| ext.to_str()).unwrap_or("");
            let mime = actix_files::file_extension_to_mime(extension);
            if identity.len() >= MIN_COMPRESS_SIZE && is_compressible(&mime) {
                jobs.push((url.clone(), Coding::Brotli, identity.clone()));
                jobs.push((url.clone(), Coding::Gzip, identity.clone()));
            }
            let hash = Sha256::digest(&identity);
            let asset = Asset {
                content_type: content_type(&mime),
                hash: hash[..8].iter().map(|byte| format!("{byte:02x}")).collect(),
                identity,
                brotli: None,
                gzip: None,
            };
            files.insert(url, asset);
        }
        for (url, coding, compressed) in compress_all(jobs)? {
            let Some(asset) = files.get_mut(&url) else {
                continue;
            };
            // Keep an encoding only if it saves at least a tenth.
            if compressed.len() * 10 > asset.identity.len() * 9 {
                continue;
            }
            match coding {
                Coding::Brotli => asset.brotli = Some(compressed),
                Coding::Gzip => asset.gzip = Some(compressed),
                Coding::Identity => {}
            }
        }
        Ok(Self { files })
    }

    /// The asset a request path names: `path` itself, or its `index.html` for a folder path
    /// (`/` is the page). Paths are matched exactly as the files were named, so nothing outside
    /// the folder can ever match.
    pub fn get(&self, path: &str) -> Option<&Asset> {
        if path.ends_with('/') {
            self.files.get(&format!("{path}index.html"))
        } else {
            self.files.get(path)
        }
    }

    /// Every asset with its URL path.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Asset)> {
        self.files.iter().map(|(url, asset)| (url.as_str(), asset))
    }

    /// Bytes of every file together as a client accepting `coding` downloads them (files
    /// without that encoding as they are).
    pub fn download_size(&self, coding: Coding) -> usize {
        self.files
            .values()
            .map(|asset| asset.body(coding).unwrap_or(&asset.identity).len())
            .sum()
    }
}

/// Walks `dir` below `root`, collecting `(url path, file path)` of regular files, skipping
/// hidden files and folders (as `actix-files` refuses to serve them) and oversized files.
fn collect_files(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect_files(root, &path, out)?;
        } else if kind.is_file() && entry.metadata()?.len() <= MAX_FILE_SIZE {
            let Ok(relative) = path.strip_prefix(root) else {
                continue;
            };
            let parts: Option<Vec<&str>> = relative.iter().map(|part| part.to_str()).collect();
            if let Some(parts) = parts {
                out.push((format!("/{}", parts.join("/")), path));
            }
        }
    }
    Ok(())
}

/// Text, scripts, wasm, JSON and SVG compress well; images, fonts and archives already are.
fn is_compressible(mime: &mime::Mime) -> bool {
    mime.type_() == mime::TEXT
        || mime.suffix() == Some(mime::XML)
        || mime.suffix() == Some(mime::JSON)
        || matches!(
            mime.essence_str(),
            "application/javascript" | "application/json" | "application/wasm" | "image/svg+xml"
        )
}

/// The `Content-Type` `actix-files` would send: UTF-8 declared for the same few text types.
fn content_type(mime: &mime::Mime) -> HeaderValue {
    let utf8 = matches!(
        mime.essence_str(),
        "application/javascript"
            | "text/html"
            | "text/css"
            | "text/plain"
            | "text/csv"
            | "text/tab-separated-values"
    );
    let value = if utf8 && mime.get_param(mime::CHARSET).is_none() {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    };
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("application/octet-stream"))
}

/// Runs every compression job on scoped threads, one per core, each taking the next job.
fn compress_all(jobs: Vec<(String, Coding, Bytes)>) -> io::Result<Vec<(String, Coding, Bytes)>> {
    let threads = thread::available_parallelism()
        .map_or(1, usize::from)
        .min(jobs.len().max(1));
    let next = AtomicUsize::new(0);
    // The biggest first, so the slowest job (brotli of the wasm) does not start last.
    let mut jobs = jobs;
    jobs.sort_by_key(|(_, coding, bytes)| {
        std::cmp::Reverse((bytes.len(), *coding == Coding::Brotli))
    });
    let jobs = &jobs;
    thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some((url, coding, bytes)) = jobs.get(index) else {
                            return Ok::<_, io::Error>(done);
                        };
                        done.push((url.clone(), *coding, compress(*coding, bytes)?));
                    }
                })
            })
            .collect();
        let mut results = Vec::with_capacity(jobs.len());
        for worker in workers {
            let done = worker
                .join()
                .map_err(|_| io::Error::other("a compression thread panicked"))??;
            results.extend(done);
        }
        Ok(results)
    })
}

/// `bytes` compressed in `coding` at its best setting.
fn compress(coding: Coding, bytes: &[u8]) -> io::Result<Bytes> {
    let mut out = Vec::with_capacity(bytes.len() / 2);
    match coding {
        Coding::Brotli => {
            let params = brotli::enc::BrotliEncoderParams {
                quality: BROTLI_QUALITY,
                lgwin: BROTLI_WINDOW,
                size_hint: bytes.len(),
                ..Default::default()
            };
            brotli::BrotliCompress(&mut &bytes[..], &mut out, &params)?;
        }
        Coding::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(&mut out, flate2::Compression::best());
            encoder.write_all(bytes)?;
            encoder.finish()?;
        }
        Coding::Identity => out.extend_from_slice(bytes),
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use actix_web::http::header::Header as _;

    use super::*;

    fn accept(value: &str) -> Option<AcceptEncoding> {
        let mut request = actix_web::test::TestRequest::default();
        request = request.insert_header(("accept-encoding", value));
        AcceptEncoding::parse(&request.to_http_request()).ok()
    }

    fn asset(brotli: bool, gzip: bool) -> Asset {
        Asset {
            content_type: HeaderValue::from_static("application/wasm"),
            identity: Bytes::from_static(b"file"),
            brotli: brotli.then(|| Bytes::from_static(b"br")),
            gzip: gzip.then(|| Bytes::from_static(b"gz")),
            hash: "0123456789abcdef".into(),
        }
    }

    #[test]
    fn the_best_encoding_the_client_accepts_wins_with_brotli_first_on_a_tie() {
        let both = asset(true, true);
        let cases = [
            ("gzip, deflate, br, zstd", Coding::Brotli),
            ("gzip", Coding::Gzip),
            ("br", Coding::Brotli),
            ("br;q=0.5, gzip", Coding::Gzip),
            ("br;q=0.5, gzip;q=0.8", Coding::Gzip),
            ("gzip;q=0.1, identity;q=0.5", Coding::Identity),
            ("gzip;q=0.1", Coding::Gzip),
            ("identity", Coding::Identity),
            ("*", Coding::Brotli),
            ("*;q=0.5, br;q=0", Coding::Gzip),
            ("*;q=0, identity", Coding::Identity),
            ("br;q=0, gzip;q=0", Coding::Identity),
            ("zstd, deflate", Coding::Identity),
            ("", Coding::Identity),
            ("BR", Coding::Brotli),
        ];
        for (header, expected) in cases {
            assert_eq!(
                both.negotiate(accept(header).as_ref()),
                expected,
                "{header:?}"
            );
        }
        assert_eq!(both.negotiate(None), Coding::Identity, "no header");
    }

    #[test]
    fn only_encodings_the_asset_has_are_chosen() {
        assert_eq!(
            asset(false, true).negotiate(accept("br, gzip").as_ref()),
            Coding::Gzip
        );
        assert_eq!(
            asset(false, false).negotiate(accept("br, gzip").as_ref()),
            Coding::Identity
        );
    }

    #[test]
    fn identity_refused_and_nothing_else_acceptable_still_gets_the_file() {
        assert_eq!(
            asset(true, true).negotiate(accept("identity;q=0, zstd").as_ref()),
            Coding::Identity
        );
    }

    #[test]
    fn each_encoding_has_its_own_etag() {
        let asset = asset(true, true);
        let tags: Vec<_> = Coding::PREFERENCE
            .iter()
            .map(|coding| asset.etag(*coding).to_string())
            .collect();
        assert_eq!(
            tags,
            [
                "\"0123456789abcdef.br\"",
                "\"0123456789abcdef.gz\"",
                "\"0123456789abcdef\""
            ]
        );
    }

    #[test]
    fn a_folder_is_loaded_compressed_where_it_pays_and_decodes_back() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let script = "export function tick(n) { return n + 1; }\n".repeat(100);
        std::fs::write(dir.path().join("app-1a2b.js"), &script).expect("write");
        std::fs::write(dir.path().join("index.html"), "<!doctype html>").expect("write");
        let noise: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        std::fs::write(dir.path().join("noise.png"), &noise).expect("write");
        std::fs::create_dir(dir.path().join("snippets")).expect("mkdir");
        std::fs::write(dir.path().join("snippets").join("a.js"), &script).expect("write");
        std::fs::write(dir.path().join(".hidden"), "secret").expect("write");

        let assets = Assets::load(dir.path()).expect("loads");

        let js = assets.get("/app-1a2b.js").expect("the script");
        assert_eq!(js.content_type, "text/javascript");
        let mut decoded = String::new();
        brotli::Decompressor::new(&js.brotli.as_ref().expect("brotli")[..], 4096)
            .read_to_string(&mut decoded)
            .expect("brotli decodes");
        assert_eq!(decoded, script);
        let mut decoded = String::new();
        flate2::read::GzDecoder::new(&js.gzip.as_ref().expect("gzip")[..])
            .read_to_string(&mut decoded)
            .expect("gzip decodes");
        assert_eq!(decoded, script);
        assert!(
            assets
                .get("/snippets/a.js")
                .expect("nested")
                .has_encodings()
        );

        let page = assets.get("/").expect("the page at /");
        assert!(!page.has_encodings(), "a 15-byte page is not compressed");
        assert!(
            page.content_type
                .to_str()
                .unwrap_or("")
                .starts_with("text/html")
        );
        assert!(!assets.get("/noise.png").expect("png").has_encodings());
        assert!(assets.get("/.hidden").is_none());
        let brotli = js.brotli.as_ref().map_or(0, |bytes| bytes.len());
        assert_eq!(
            assets.download_size(Coding::Brotli),
            2 * brotli + "<!doctype html>".len() + noise.len()
        );
        assert!(assets.get("/../index.html").is_none());
        assert_eq!(assets.iter().count(), 4);
    }

    #[test]
    fn content_types_match_what_actix_files_sends() {
        for (ext, expected) in [
            ("html", "text/html; charset=utf-8"),
            ("css", "text/css; charset=utf-8"),
            ("js", "text/javascript"),
            ("txt", "text/plain; charset=utf-8"),
            ("wasm", "application/wasm"),
            ("png", "image/png"),
        ] {
            let mime = actix_files::file_extension_to_mime(ext);
            assert_eq!(content_type(&mime), expected, "{ext}");
        }
    }
}
