"""Schemathesis hooks for tests/hostile/fuzz.rs.

Uploads: for each file type the document lists in the `media` field's encoding, a strategy
that draws real files of that type (its magic bytes, then anything), so the fuzz also reaches
the success path of an upload.

An Idempotency-Key must be unique per request (the client's promise, which a schema cannot
state): the same key with a different request is a 422 by design (`idempotency.mismatch`).
Schemathesis draws small values that repeat across requests, so every well-formed key it
generates is replaced by a fresh one; malformed keys are kept, to be refused with a 400.
"""

import re
import uuid

import schemathesis
from hypothesis import strategies as st

_WELL_FORMED = re.compile(r"^[!-~]{1,255}$")


@schemathesis.hook
def map_case(context, case):
    headers = case.headers
    if headers:
        for name in list(headers):
            value = headers[name]
            if name.lower() == "idempotency-key" and isinstance(value, str) and _WELL_FORMED.match(value):
                headers[name] = uuid.uuid4().hex
    return case


_MAGIC = {
    "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00",
    "image/png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00",
    "image/gif": b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,",
    "video/mp4": b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom",
    "video/webm": bytes(
        [0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 0x01, 0x42, 0xF7, 0x81, 0x01, 0x42,
         0xF2, 0x81, 0x04, 0x42, 0xF3, 0x81, 0x08, 0x42, 0x82, 0x84]
    ) + b"webm" + bytes(272),
    "video/quicktime": b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ",
}

for _media_type, _magic in _MAGIC.items():
    schemathesis.openapi.media_type(
        _media_type, st.binary(max_size=256).map(lambda tail, magic=_magic: magic + tail)
    )
