//! Chat media. An upload is streamed to a spool file while it is hashed, counted and sniffed
//! ([`spool`]), so a 100 MB file never sits in memory and nothing unrecognised is kept; a
//! [`MediaStore`] then keeps the file and says where it can be fetched.

pub mod cloudinary;
pub mod local;

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::domain::media::{MediaType, SNIFF_BYTES, sniff};

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("the file is larger than {0} bytes")]
    TooLarge(u64),
    #[error(
        "only these image and video types are accepted: {}",
        crate::domain::media::accepted()
    )]
    Unsupported,
    #[error("the file is empty")]
    Empty,
    #[error("the upload was interrupted: {0}")]
    Interrupted(String),
    #[error("media storage unavailable: {0}")]
    Unavailable(String),
    #[error("media storage refused the file: {0}")]
    Rejected(String),
}

/// A file in the spool directory that is deleted when dropped, unless it was kept: whatever way
/// an upload ends (an error, a refusal, the media store failing, the request cut off by its
/// timeout), no spool file stays behind.
#[derive(Debug)]
pub struct SpoolFile {
    path: PathBuf,
    kept: bool,
}

impl SpoolFile {
    fn new(path: PathBuf) -> SpoolFile {
        SpoolFile { path, kept: false }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Moves the file to `target` (same file system) and keeps it there.
    pub async fn persist(mut self, target: &Path) -> std::io::Result<()> {
        tokio::fs::rename(&self.path, target).await?;
        self.kept = true;
        Ok(())
    }
}

impl Drop for SpoolFile {
    fn drop(&mut self) {
        if !self.kept {
            // Synchronous: a drop cannot await, and an unlink is one short system call.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A validated upload waiting in the spool directory.
#[derive(Debug)]
pub struct Spooled {
    pub file: SpoolFile,
    pub media: MediaType,
    pub sha256: String,
    pub bytes: u64,
}

impl Spooled {
    /// Content-addressed file name: `<sha256>.<ext>`.
    pub fn file_name(&self) -> String {
        format!("{}.{}", self.sha256, self.media.extension)
    }
}

#[async_trait]
pub trait MediaStore: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    /// Keeps the spooled file; returns its public URL. Consumes the spool file (kept by moving
    /// it, or deleted when dropped).
    async fn put(&self, file: Spooled) -> Result<String, MediaError>;
}

/// The prefix and suffix of every spool file's name (what [`sweep_spool`] may delete).
const SPOOL_PREFIX: &str = "upload-";
const SPOOL_SUFFIX: &str = ".part";

/// Streams `chunks` into a new file under `spool_dir`, refusing as soon as it is over
/// `bytes_max` or its first bytes are not an allowed type. On any way out but success the file
/// is removed (see [`SpoolFile`]).
pub async fn spool<S, E>(
    mut chunks: S,
    spool_dir: &Path,
    bytes_max: u64,
) -> Result<Spooled, MediaError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    tokio::fs::create_dir_all(spool_dir)
        .await
        .map_err(|e| MediaError::Unavailable(e.to_string()))?;
    let spool = SpoolFile::new(spool_dir.join(format!(
        "{SPOOL_PREFIX}{}{SPOOL_SUFFIX}",
        crate::domain::ids::new_object_id_hex()
    )));
    let mut file = tokio::fs::File::create(spool.path())
        .await
        .map_err(|e| MediaError::Unavailable(e.to_string()))?;
    let mut hasher = Sha256::new();
    let mut head: Vec<u8> = Vec::with_capacity(SNIFF_BYTES);
    let mut media: Option<MediaType> = None;
    let mut bytes: u64 = 0;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| {
            let text = e.to_string();
            if text.contains("length limit") || text.contains("too large") {
                MediaError::TooLarge(bytes_max)
            } else {
                MediaError::Interrupted(text)
            }
        })?;
        bytes += chunk.len() as u64;
        if bytes > bytes_max {
            return Err(MediaError::TooLarge(bytes_max));
        }
        if media.is_none() {
            let take = (SNIFF_BYTES - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
            if head.len() >= SNIFF_BYTES {
                media = Some(sniff(&head).ok_or(MediaError::Unsupported)?);
            }
        }
        hasher.update(&chunk);
        file.write_all(&chunk)
            .await
            .map_err(|e| MediaError::Unavailable(e.to_string()))?;
    }
    if bytes == 0 {
        return Err(MediaError::Empty);
    }
    let media = match media {
        Some(m) => m,
        None => sniff(&head).ok_or(MediaError::Unsupported)?,
    };
    // Durable before it is acknowledged.
    file.sync_all()
        .await
        .map_err(|e| MediaError::Unavailable(e.to_string()))?;
    Ok(Spooled {
        file: spool,
        media,
        sha256: hex::encode(hasher.finalize()),
        bytes,
    })
}

/// Deletes the spool files older than `age_max` (an upload takes at most its timeout, so an
/// older one is what a process that died mid-upload left behind); returns how many. A missing
/// directory has none.
pub async fn sweep_spool(spool_dir: &Path, age_max: std::time::Duration) -> std::io::Result<usize> {
    let mut dir = match tokio::fs::read_dir(spool_dir).await {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut swept = 0;
    while let Some(entry) = dir.next_entry().await? {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with(SPOOL_PREFIX) && name.ends_with(SPOOL_SUFFIX)) {
            continue;
        }
        let age = entry
            .metadata()
            .await
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok());
        if age.is_some_and(|a| a > age_max) && tokio::fs::remove_file(entry.path()).await.is_ok() {
            swept += 1;
        }
    }
    Ok(swept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(
        parts: Vec<Result<&'static [u8], &'static str>>,
    ) -> impl Stream<Item = Result<Bytes, &'static str>> + Unpin {
        futures_util::stream::iter(parts.into_iter().map(|p| p.map(Bytes::from_static)))
    }

    fn spool_files(dir: &Path) -> usize {
        std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
    }

    const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";

    #[tokio::test]
    async fn a_spool_file_is_gone_however_the_upload_ends_unless_it_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        // Refused, interrupted, or dropped half way (what a timeout does to the request).
        assert!(
            spool(
                chunks(vec![Ok(b"MZ\x90\x00 not an image")]),
                dir.path(),
                1 << 20
            )
            .await
            .is_err()
        );
        assert!(
            spool(chunks(vec![Ok(GIF), Err("reset")]), dir.path(), 1 << 20)
                .await
                .is_err()
        );
        let pending = futures_util::stream::iter([Ok::<_, &str>(Bytes::from_static(GIF))])
            .chain(futures_util::stream::pending());
        let cut = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            spool(Box::pin(pending), dir.path(), 1 << 20),
        )
        .await;
        assert!(cut.is_err(), "the upload was cut off");
        assert_eq!(spool_files(dir.path()), 0, "a spool file was left behind");
        // Spooled and then dropped (the media store failed): gone too.
        let spooled = spool(chunks(vec![Ok(GIF)]), dir.path(), 1 << 20)
            .await
            .unwrap();
        assert_eq!(spool_files(dir.path()), 1);
        drop(spooled);
        assert_eq!(spool_files(dir.path()), 0);
        // Kept: moved out, nothing left in the spool.
        let spooled = spool(chunks(vec![Ok(GIF)]), dir.path(), 1 << 20)
            .await
            .unwrap();
        let kept = dir.path().join("kept.gif");
        spooled.file.persist(&kept).await.unwrap();
        assert!(kept.exists());
        assert_eq!(spool_files(dir.path()), 1, "only the kept file");
    }

    #[tokio::test]
    async fn the_sweep_deletes_only_old_spool_files() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("upload-old.part");
        let other = dir.path().join("notes.txt");
        std::fs::write(&old, b"x").unwrap();
        std::fs::write(&other, b"x").unwrap();
        assert_eq!(
            sweep_spool(dir.path(), std::time::Duration::from_secs(3600))
                .await
                .unwrap(),
            0
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert_eq!(
            sweep_spool(dir.path(), std::time::Duration::from_millis(10))
                .await
                .unwrap(),
            1
        );
        assert!(!old.exists() && other.exists());
        assert_eq!(
            sweep_spool(&dir.path().join("none"), std::time::Duration::ZERO)
                .await
                .unwrap(),
            0
        );
    }
}
