"""Real images and hostile look-alikes, for the upload checks (Pillow makes the real ones)."""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import Image

HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="8" height="8"/></svg>'
TEXT = b"Just some text, declared as an image.\n" * 4


def image_bytes(image_format: str = "PNG", *, size: tuple[int, int] = (48, 48)) -> bytes:
    """A real image of noise (so it does not compress to nothing and truncation bites)."""
    noise = random.Random(7).randbytes(size[0] * size[1] * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", size, noise).save(out, format=image_format)
    return out.getvalue()


def truncated(data: bytes) -> bytes:
    """The first half: an image whose pixel data stops short."""
    return data[: len(data) // 2]


def png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header claims ``width`` x ``height`` pixels: a decompression bomb's shape."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunks = _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
