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
    #[error("only jpeg, png, gif, mp4, webm and quicktime files are accepted")]
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

/// A validated upload waiting in the spool directory.
#[derive(Debug)]
pub struct Spooled {
    pub path: PathBuf,
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
    /// Keeps the spooled file; returns its public URL. Consumes (moves or deletes) the spool file.
    async fn put(&self, file: Spooled) -> Result<String, MediaError>;
}

/// Streams `chunks` into a new file under `spool_dir`, refusing as soon as it is over
/// `bytes_max` or its first bytes are not an allowed type. On any error the file is removed.
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
    let path = spool_dir.join(format!(
        "upload-{}.part",
        crate::domain::ids::new_object_id_hex()
    ));
    let result = spool_into(&mut chunks, &path, bytes_max).await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&path).await;
    }
    result
}

async fn spool_into<S, E>(
    chunks: &mut S,
    path: &Path,
    bytes_max: u64,
) -> Result<Spooled, MediaError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut file = tokio::fs::File::create(path)
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
        path: path.to_path_buf(),
        media,
        sha256: hex::encode(hasher.finalize()),
        bytes,
    })
}
