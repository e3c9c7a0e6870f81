//! Chat media: an upload is streamed to a spool file while it is checked, then kept by the
//! media store.

use bytes::Bytes;
use futures_util::Stream;

use crate::domain::media::MediaKind;

use super::Service;
use super::access::{Permit, UseCase};
use super::error::Result;

/// A kept upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMedia {
    pub url: String,
    pub kind: MediaKind,
    pub bytes: u64,
    pub sha256: String,
}

impl Service {
    /// Streams an upload to the spool, checks it, and hands it to the media store.
    pub async fn upload<S, E>(&self, permit: Permit<'_>, chunks: S) -> Result<StoredMedia>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        permit.expect(UseCase::Upload);
        let spooled = crate::media::spool(
            chunks,
            &self.settings.spool_dir,
            self.settings.upload_bytes_max,
        )
        .await?;
        let (kind, bytes, sha256) = (spooled.media.kind, spooled.bytes, spooled.sha256.clone());
        let url = self.media.put(spooled).await?;
        Ok(StoredMedia {
            url,
            kind,
            bytes,
            sha256,
        })
    }
}
