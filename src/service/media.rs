//! Chat media: an upload is streamed to a spool file while it is checked, then kept by the
//! media store. One user has at most `uploads_per_user_max` uploads in flight, each spooling up
//! to the upload limit on disk; more are refused (429) until one ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::Stream;

use crate::domain::UserId;
use crate::domain::media::MediaKind;

use super::Service;
use super::access::{Permit, UseCase};
use super::error::{Error, ErrorCode, Result};

/// A kept upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMedia {
    pub url: String,
    pub kind: MediaKind,
    pub bytes: u64,
    pub sha256: String,
}

/// How many uploads each user has in flight.
#[derive(Debug, Default)]
pub struct UploadSlots(Arc<Mutex<HashMap<UserId, usize>>>);

/// One user's upload in flight: its slot is given back when dropped, however the upload ends.
struct Slot {
    slots: Arc<Mutex<HashMap<UserId, usize>>>,
    user: UserId,
}

impl UploadSlots {
    fn take(&self, user: &UserId, max: usize) -> Option<Slot> {
        let mut slots = self.0.lock().expect("never poisoned");
        let n = slots.entry(user.clone()).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Slot {
            slots: self.0.clone(),
            user: user.clone(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut slots = self.slots.lock().expect("never poisoned");
        if let Some(n) = slots.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                slots.remove(&self.user);
            }
        }
    }
}

impl Service {
    /// Streams an upload to the spool, checks it, and hands it to the media store.
    pub async fn upload<S, E>(&self, permit: Permit<'_>, chunks: S) -> Result<StoredMedia>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let caller = permit.expect(UseCase::Upload);
        let max = self.settings.uploads_per_user_max;
        // Held until the upload ends, however it ends. (Operators upload nothing through the
        // API; they would not be counted.)
        let _slot = match caller.user() {
            Some(p) => Some(self.uploads.take(&p.id, max).ok_or_else(|| {
                Error::new(
                    ErrorCode::MediaTooManyUploads,
                    format!("at most {max} uploads at once; wait for one to finish"),
                )
            })?),
            None => None,
        };
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
