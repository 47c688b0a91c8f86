"""The ImageProbe contract: what an upload's bytes really are, whatever was declared."""

from __future__ import annotations

import pytest

from adapters.images.pillow import PillowImageProbe
from domain.blobs import ImageInfo
from domain.errors import UploadRejected
from domain.ports import ImageProbe
from tests.images import HTML, SVG, TEXT, image_bytes, png_claiming, truncated

MAX_PIXELS = 1_000_000


class ImageProbeContract:
    """Subclasses provide ``probe``, limited to MAX_PIXELS."""

    @pytest.mark.parametrize(
        ("image_format", "content_type"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
    )
    def test_a_whole_image_is_identified_by_its_bytes(
        self, probe: ImageProbe, image_format: str, content_type: str
    ) -> None:
        assert probe.identify(image_bytes(image_format, size=(40, 30))) == ImageInfo(content_type, 40, 30)

    @pytest.mark.parametrize(
        "data",
        [HTML, SVG, TEXT, b"", b"\x89PNG\r\n\x1a\n", image_bytes("GIF"), image_bytes("BMP")],
        ids=["html", "svg", "text", "empty", "png-signature-only", "gif", "bmp"],
    )
    def test_anything_else_is_rejected(self, probe: ImageProbe, data: bytes) -> None:
        with pytest.raises(UploadRejected):
            probe.identify(data)

    @pytest.mark.parametrize("image_format", ["PNG", "JPEG", "WEBP"])
    def test_a_truncated_image_is_rejected(self, probe: ImageProbe, image_format: str) -> None:
        with pytest.raises(UploadRejected):
            probe.identify(truncated(image_bytes(image_format)))

    def test_html_after_an_image_signature_is_rejected(self, probe: ImageProbe) -> None:
        with pytest.raises(UploadRejected):
            probe.identify(b"\x89PNG\r\n\x1a\n" + HTML)

    def test_an_image_over_the_pixel_limit_is_rejected(self, probe: ImageProbe) -> None:
        with pytest.raises(UploadRejected) as rejected:
            probe.identify(image_bytes("PNG", size=(1001, 1000)))

        assert str(MAX_PIXELS) in rejected.value.message

    @pytest.mark.parametrize(("width", "height"), [(20_000, 20_000), (1_000_001, 1)])
    def test_a_decompression_bomb_is_rejected_from_its_header(self, probe: ImageProbe, width: int, height: int) -> None:
        with pytest.raises(UploadRejected):
            probe.identify(png_claiming(width, height))

    def test_an_image_at_the_pixel_limit_passes(self, probe: ImageProbe) -> None:
        assert probe.identify(image_bytes("PNG", size=(1000, 1000))).width == 1000


class TestPillowImageProbe(ImageProbeContract):
    @pytest.fixture
    def probe(self) -> ImageProbe:
        return PillowImageProbe(max_pixels=MAX_PIXELS)
