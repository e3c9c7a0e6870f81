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

/// Sniffs the leading bytes of a file. `None` for anything that is not one of jpeg, png, gif,
/// mp4, webm or quicktime.
pub fn sniff(head: &[u8]) -> Option<MediaType> {
    let found = infer::get(head)?;
    let (kind, mime, extension) = match found.mime_type() {
        "image/jpeg" => (MediaKind::Image, "image/jpeg", "jpg"),
        "image/png" => (MediaKind::Image, "image/png", "png"),
        "image/gif" => (MediaKind::Image, "image/gif", "gif"),
        "video/mp4" => (MediaKind::Video, "video/mp4", "mp4"),
        "video/webm" => (MediaKind::Video, "video/webm", "webm"),
        "video/quicktime" => (MediaKind::Video, "video/quicktime", "mov"),
        _ => return None,
    };
    Some(MediaType {
        kind,
        mime,
        extension,
    })
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
