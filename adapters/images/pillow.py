"""The ImageProbe port on Pillow: decode an upload fully to learn what it really is.

A declared content type and a stored object's metadata are the client's word;
the bytes are the truth. HTML, SVG and text have no image decoder here, so they
are refused whatever they are declared as; a truncated or corrupt image fails
to decode. Only the formats listed are even tried (``formats=``), so none of
Pillow's other parsers ever reads upload bytes.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

from domain.blobs import ImageInfo
from domain.errors import UploadRejected

# Pillow format name -> the content type it is served as.
CONTENT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
_FORMATS = tuple(CONTENT_TYPES)


class PillowImageProbe:
    """Implements ImageProbe; ``max_pixels`` bounds width x height (and so the memory a decode takes)."""

    def __init__(self, *, max_pixels: int) -> None:
        self._max_pixels = max_pixels

    def identify(self, data: bytes) -> ImageInfo:
        """Open (header), check the pixel count, verify (structure, checksums), then load every pixel."""
        try:
            # Pillow only warns between its own limit and twice it: any warning here is a refusal.
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                info = self._header(data)
                with Image.open(io.BytesIO(data), formats=_FORMATS) as image:
                    image.load()  # verify() leaves the file unusable, so decode from a fresh open
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise UploadRejected(f"The image has more than {self._max_pixels} pixels.") from e
        except UnidentifiedImageError as e:
            raise UploadRejected("The file is not an image of an allowed type.") from e
        except (OSError, SyntaxError, ValueError, EOFError) as e:  # what Pillow raises for broken data
            raise UploadRejected("The image is truncated or corrupt.") from e
        return info

    def _header(self, data: bytes) -> ImageInfo:
        with Image.open(io.BytesIO(data), formats=_FORMATS) as image:
            width, height = image.size
            if width * height > self._max_pixels:
                raise UploadRejected(f"The image has more than {self._max_pixels} pixels.")
            image.verify()
            return ImageInfo(content_type=CONTENT_TYPES[str(image.format)], width=width, height=height)
