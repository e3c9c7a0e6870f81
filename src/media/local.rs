//! Media kept in a local directory and served by the server at `/media/<sha256>.<ext>`.

use std::path::PathBuf;

use async_trait::async_trait;

use super::{MediaError, MediaStore, Spooled};

pub struct LocalMediaStore {
    dir: PathBuf,
    /// Public base URL of the server, e.g. `http://127.0.0.1:8080`.
    public_url: String,
}

impl LocalMediaStore {
    pub fn new(dir: impl Into<PathBuf>, public_url: impl Into<String>) -> LocalMediaStore {
        LocalMediaStore {
            dir: dir.into(),
            public_url: public_url.into().trim_end_matches('/').to_string(),
        }
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Whether `name` is a file name this store could have written (`<64 hex>.<ext>`): the only
    /// names the media route serves, so no path can escape the directory.
    pub fn is_stored_name(name: &str) -> bool {
        match name.split_once('.') {
            Some((hash, ext)) => {
                hash.len() == 64
                    && hash
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                    && crate::domain::media::by_extension(ext).is_some()
            }
            None => false,
        }
    }
}

#[async_trait]
impl MediaStore for LocalMediaStore {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn put(&self, file: Spooled) -> Result<String, MediaError> {
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| MediaError::Unavailable(e.to_string()))?;
        let name = file.file_name();
        let target = self.dir.join(&name);
        // Same bytes, same name: a second upload of a file replaces it with itself.
        file.file
            .persist(&target)
            .await
            .map_err(|e| MediaError::Unavailable(e.to_string()))?;
        Ok(format!("{}/media/{name}", self.public_url))
    }
}
