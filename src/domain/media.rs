//! What an uploaded file is, decided from its own bytes (never the client's MIME type).

use serde::{Deserialize, Serialize};

/// How many leading bytes the sniffer needs.
pub const SNIFF_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Image,
    Video,
}

impl MediaKind {
    pub const ALL: [MediaKind; 2] = [MediaKind::Image, MediaKind::Video];
}

/// A recognised, allowed file type: the original's image and video types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaType {
    pub kind: MediaKind,
    pub mime: &'static str,
    pub extension: &'static str,
}

/// Every type an upload may be: the images and videos the original's chat offers (`image/*`,
/// `video/*`) that both storages keep and serve (Cloudinary's image and video formats; the
/// local store serves each with its type). Not SVG or other scriptable formats: a file is kept
/// only as one of these, recognised from its own bytes.
pub const MEDIA_TYPES: &[MediaType] = &[
    media(MediaKind::Image, "image/jpeg", "jpg"),
    media(MediaKind::Image, "image/png", "png"),
    media(MediaKind::Image, "image/gif", "gif"),
    media(MediaKind::Image, "image/webp", "webp"),
    media(MediaKind::Image, "image/avif", "avif"),
    media(MediaKind::Image, "image/heif", "heic"),
    media(MediaKind::Image, "image/bmp", "bmp"),
    media(MediaKind::Image, "image/tiff", "tiff"),
    media(MediaKind::Video, "video/mp4", "mp4"),
    media(MediaKind::Video, "video/x-m4v", "m4v"),
    media(MediaKind::Video, "video/webm", "webm"),
    media(MediaKind::Video, "video/quicktime", "mov"),
    media(MediaKind::Video, "video/x-matroska", "mkv"),
    media(MediaKind::Video, "video/x-msvideo", "avi"),
    media(MediaKind::Video, "video/mpeg", "mpeg"),
];

const fn media(kind: MediaKind, mime: &'static str, extension: &'static str) -> MediaType {
    MediaType {
        kind,
        mime,
        extension,
    }
}

/// Sniffs the leading bytes of a file. `None` for anything that is not one of
/// [`MEDIA_TYPES`].
pub fn sniff(head: &[u8]) -> Option<MediaType> {
    let found = infer::get(head)?.mime_type();
    MEDIA_TYPES.iter().find(|t| t.mime == found).copied()
}

/// The type of a stored file's extension.
pub fn by_extension(extension: &str) -> Option<MediaType> {
    MEDIA_TYPES
        .iter()
        .find(|t| t.extension == extension)
        .copied()
}

/// The accepted MIME types, comma-separated (for documents and messages).
pub fn accepted() -> String {
    MEDIA_TYPES
        .iter()
        .map(|t| t.mime)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_and_videos_are_recognised_by_their_magic_bytes() {
        let png = [
            0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, b'I', b'H', b'D', b'R',
        ];
        assert_eq!(sniff(&png).unwrap().kind, MediaKind::Image);
        assert_eq!(sniff(b"GIF89a\x01\x00\x01\x00").unwrap().mime, "image/gif");
        assert_eq!(
            sniff(&[0xff, 0xd8, 0xff, 0xe0, 0, 0x10, b'J', b'F', b'I', b'F'])
                .unwrap()
                .extension,
            "jpg"
        );
        let mp4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom";
        assert_eq!(sniff(mp4).unwrap().kind, MediaKind::Video);
        let mut webm = vec![
            0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0xf7, 0x81, 0x01, 0x42,
            0xf2, 0x81, 0x04, 0x42, 0xf3, 0x81, 0x08, 0x42, 0x82, 0x84, b'w', b'e', b'b', b'm',
        ];
        webm.resize(300, 0);
        assert_eq!(sniff(&webm).unwrap().mime, "video/webm");
        assert_eq!(
            sniff(b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00")
                .unwrap()
                .extension,
            "mov"
        );
    }

    #[test]
    fn anything_else_is_refused() {
        assert!(sniff(b"\x7fELF\x02\x01\x01\x00").is_none());
        assert!(sniff(b"MZ\x90\x00").is_none());
        assert!(sniff(b"%PDF-1.7").is_none());
        assert!(sniff(b"hello").is_none());
        assert!(sniff(b"").is_none());
    }
}
