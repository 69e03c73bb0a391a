"""Pictures in: every accepted format decodes upright to RGB, and every bad input is refused
with an ImageInputError saying what was wrong and what is accepted. Files are made at test time."""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from miniapp.image_in import ImageInputError, LoadedImage, downscale, load_image

ERROR_CODES = {
    "empty",
    "too_large",
    "not_image",
    "unsupported_format",
    "corrupt",
    "too_many_pixels",
    "bad_dimensions",
    "too_small",
}
ACCEPTED = "send a PNG, JPEG or WebP photo or screenshot up to 15 MB"


def _screen(width: int = 240, height: int = 160) -> Image.Image:
    """A picture whose left half is red and right half blue, so orientation is checkable."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, : width // 2] = (220, 30, 30)
    pixels[:, width // 2 :] = (30, 30, 220)
    return Image.fromarray(pixels)


def _encode(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_header(width: int, height: int, bit_depth: int = 8, colour_type: int = 2) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)


def _refused(data: bytes, code: str, **options: object) -> ImageInputError:
    with pytest.raises(ImageInputError) as caught:
        load_image(data, **options)  # type: ignore[arg-type]
    assert caught.value.code == code, caught.value.message
    assert caught.value.message == str(caught.value)
    assert "PNG, JPEG or WebP" in caught.value.message
    return caught.value


def _assert_red_left_blue_right(loaded: LoadedImage) -> None:
    left = loaded.rgb[:, : loaded.width // 4].reshape(-1, 3).mean(axis=0)
    right = loaded.rgb[:, -loaded.width // 4 :].reshape(-1, 3).mean(axis=0)
    assert left[0] > 180 > left[2], left
    assert right[2] > 180 > right[0], right


# --- accepted ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image_format", "options", "expected"),
    [
        ("PNG", {}, "PNG"),
        ("JPEG", {"quality": 90}, "JPEG"),
        ("WEBP", {"quality": 90}, "WEBP"),
        ("WEBP", {"lossless": True}, "WEBP"),
    ],
)
def test_accepted_formats_decode_to_rgb(
    image_format: str, options: dict[str, object], expected: str
) -> None:
    loaded = load_image(_encode(_screen(), image_format, **options), filename="photo.bin")
    assert (loaded.width, loaded.height, loaded.format) == (240, 160, expected)
    assert loaded.rgb.shape == (160, 240, 3)
    assert loaded.rgb.dtype == np.uint8
    assert not loaded.exif_rotated
    assert loaded.frame_count == 1
    _assert_red_left_blue_right(loaded)


def test_pixels_are_read_only() -> None:
    loaded = load_image(_encode(_screen(), "PNG"))
    with pytest.raises(ValueError, match="read-only"):
        loaded.rgb[0, 0] = 0


@pytest.mark.parametrize(
    ("orientation", "stored"),
    [
        (3, lambda image: image.transpose(Image.Transpose.ROTATE_180)),
        (6, lambda image: image.transpose(Image.Transpose.ROTATE_90)),
        (8, lambda image: image.transpose(Image.Transpose.ROTATE_270)),
        (2, lambda image: image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
    ],
)
def test_exif_orientation_makes_a_phone_photo_upright(
    orientation: int, stored: Callable[[Image.Image], Image.Image]
) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _encode(stored(_screen()), "JPEG", quality=90, exif=exif.tobytes())
    loaded = load_image(data)
    assert loaded.exif_rotated
    assert (loaded.width, loaded.height) == (240, 160)
    _assert_red_left_blue_right(loaded)


def test_rgba_is_composited_over_white() -> None:
    pixels = np.zeros((100, 100, 4), np.uint8)
    pixels[:, 50:] = (255, 0, 0, 128)
    loaded = load_image(_encode(Image.fromarray(pixels, "RGBA"), "PNG"))
    assert tuple(loaded.rgb[10, 10]) == (255, 255, 255)
    assert tuple(loaded.rgb[10, 90]) == (255, 127, 127)


def test_transparent_palette_and_grey_alpha_over_white() -> None:
    palette = Image.new("P", (80, 80), 0)
    palette.putpalette([0, 0, 0, 200, 10, 10] + [0] * 762)
    palette.paste(1, (40, 0, 80, 80))
    loaded = load_image(_encode(palette, "PNG", transparency=0))
    assert tuple(loaded.rgb[5, 5]) == (255, 255, 255)
    assert tuple(loaded.rgb[5, 70]) == (200, 10, 10)

    grey_alpha = Image.new("LA", (80, 80), (0, 0))
    grey_alpha.paste((40, 255), (40, 0, 80, 80))
    loaded = load_image(_encode(grey_alpha, "PNG"))
    assert tuple(loaded.rgb[5, 5]) == (255, 255, 255)
    assert tuple(loaded.rgb[5, 70]) == (40, 40, 40)


def test_grey_cmyk_and_16_bit_become_rgb() -> None:
    grey = load_image(_encode(Image.new("L", (70, 70), 90), "PNG"))
    assert tuple(grey.rgb[0, 0]) == (90, 90, 90)

    cmyk = load_image(_encode(Image.new("CMYK", (70, 70), (0, 255, 255, 0)), "JPEG"))
    red, green, blue = (int(value) for value in cmyk.rgb[35, 35])
    assert red > 220, (red, green, blue)
    assert max(green, blue) < 40, (red, green, blue)

    deep = np.full((70, 70), 65535, np.uint16)
    deep[:, 35:] = 32896
    loaded = load_image(_encode(Image.fromarray(deep), "PNG"))
    assert tuple(loaded.rgb[0, 0]) == (255, 255, 255)
    assert tuple(loaded.rgb[0, 60]) == (128, 128, 128)


@pytest.mark.parametrize("image_format", ["PNG", "WEBP"])
def test_animation_gives_its_first_frame(image_format: str) -> None:
    first = _screen()
    second = Image.new("RGB", first.size, (0, 200, 0))
    data = _encode(
        first, image_format, save_all=True, append_images=[second], duration=200, lossless=True
    )
    loaded = load_image(data)
    assert loaded.frame_count == 2
    _assert_red_left_blue_right(loaded)


def test_the_filename_is_not_trusted() -> None:
    assert load_image(_encode(_screen(), "PNG"), filename="scan.gif").format == "PNG"
    error = _refused(_encode(_screen(), "GIF"), "unsupported_format", filename="C:\\x\\photo.png")
    assert error.message.startswith("'photo.png' is a GIF;")


def test_smallest_side_accepted_is_64_pixels() -> None:
    assert load_image(_encode(_screen(64, 64), "PNG")).width == 64
    error = _refused(_encode(_screen(63, 300), "PNG"), "too_small")
    assert "63x300 pixels; send a PNG, JPEG or WebP at least 64 pixels" in error.message


# --- refused ----------------------------------------------------------------------------------


def test_empty_data() -> None:
    assert _refused(b"", "empty").message == f"this is empty (0 bytes); {ACCEPTED}"


def test_too_many_bytes_is_refused_before_anything_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "open", _never_called)
    error = _refused(b"\x89PNG\r\n\x1a\n" + bytes(2_000), "too_large", max_bytes=1_000)
    assert error.message == (
        "this is 0.00201 MB, over the 0.001 MB limit; "
        "send a PNG, JPEG or WebP photo or screenshot up to 0.001 MB"
    )
    assert "16 MB, over the 15 MB limit" in _refused(bytes(16_000_000), "too_large").message


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "described"),
    [
        ("请假申请：张三，3 天".encode(), "this is text, not a picture"),
        (b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", "this is a PDF document, not a picture"),
        (b"<!DOCTYPE html><html><body><img src=x></body></html>", "this is an HTML page"),
        (_zip(), "this is a ZIP archive or Office document, not a picture"),
        (random.Random(7).randbytes(4_000), "this is not a picture"),
    ],
)
def test_non_images_are_refused(data: bytes, described: str) -> None:
    error = _refused(data, "not_image")
    assert error.message.startswith(described)
    assert error.message.endswith(ACCEPTED)


def _svg() -> bytes:
    return b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="100"/>'


def _isobmff(brand: bytes) -> bytes:
    return b"\x00\x00\x00\x18ftyp" + brand + b"\x00\x00\x00\x00mif1" + brand + bytes(200)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (_encode(_screen(), "GIF"), "a GIF"),
        (_encode(_screen(), "BMP"), "a BMP"),
        (_encode(_screen(), "TIFF"), "a TIFF"),
        (_svg(), "an SVG drawing"),
        (_isobmff(b"heic"), "a HEIC photo"),
        (_isobmff(b"avif"), "an AVIF picture"),
    ],
)
def test_other_image_formats_are_refused(data: bytes, kind: str) -> None:
    error = _refused(data, "unsupported_format")
    assert error.message.startswith(f"this is {kind}")
    assert error.message.endswith(ACCEPTED)


def test_the_gif_message_reads_as_the_issue_asks() -> None:
    error = _refused(_encode(_screen(), "GIF"), "unsupported_format")
    assert error.message == f"this is a GIF; {ACCEPTED}"


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "WEBP"])
@pytest.mark.parametrize("kept", [0.5, 0.9])
def test_truncated_files_are_refused(image_format: str, kept: float) -> None:
    noisy = Image.fromarray(np.random.default_rng(1).integers(0, 256, (200, 200, 3), np.uint8))
    data = _encode(noisy, image_format)
    error = _refused(data[: int(len(data) * kept)], "corrupt")
    assert "damaged or cut-off" in error.message


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
        b"RIFF\x10\x00\x00\x00WEBPVP8 ",
        _png_header(0, 200),
    ],
)
def test_headers_without_a_picture_are_refused(data: bytes) -> None:
    _refused(data, "corrupt")


def test_a_png_with_a_broken_checksum_is_refused() -> None:
    data = bytearray(_encode(_screen(), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 10] ^= 0xFF
    _refused(bytes(data), "corrupt")


def _never_called(*args: object, **kwargs: object) -> None:
    raise AssertionError("the pixels were decoded although the header already said no")


def _png_bomb(side: int) -> bytes:
    """A valid 1-bit PNG of side x side black pixels, a few hundred KB for gigapixels."""
    row = bytes(1 + (side + 7) // 8)
    compressor = zlib.compressobj(9)
    rows = row * 1_000
    compressed = b"".join(compressor.compress(rows) for _ in range(side // 1_000))
    compressed += compressor.compress(row * (side % 1_000)) + compressor.flush()
    return (
        _png_header(side, side, bit_depth=1, colour_type=0)
        + _png_chunk(b"IDAT", compressed)
        + _png_chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def png_bomb() -> bytes:
    return _png_bomb(30_000)


def test_a_png_decompression_bomb_is_refused_from_its_header(
    png_bomb: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(png_bomb) < 300_000
    limit_before = Image.MAX_IMAGE_PIXELS
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    monkeypatch.setattr(Image, "open", _never_called)
    error = _refused(png_bomb, "too_many_pixels")
    assert error.message == (
        "this is 30000x30000 pixels (900 megapixels), over the 40-megapixel limit; "
        "send a PNG, JPEG or WebP of at most 40 megapixels and 15 MB"
    )
    monkeypatch.undo()
    assert limit_before == Image.MAX_IMAGE_PIXELS


def test_the_bomb_is_a_real_picture(png_bomb: bytes) -> None:
    with Image.open(io.BytesIO(_png_bomb(3_000))) as small:
        small.load()
        assert small.size == (3_000, 3_000)
    assert png_bomb.startswith(_png_header(30_000, 30_000, bit_depth=1, colour_type=0))


def test_a_huge_jpeg_header_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    data = bytearray(_encode(_screen(), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 60_000, 60_000)
    monkeypatch.setattr(Image, "open", _never_called)
    error = _refused(bytes(data), "too_many_pixels")
    assert "60000x60000 pixels (3600 megapixels)" in error.message


def test_a_huge_webp_canvas_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    canvas = (20_000 - 1).to_bytes(3, "little") * 2
    data = b"RIFF" + struct.pack("<I", 200) + b"WEBPVP8X" + struct.pack("<I", 10)
    data += b"\x02\x00\x00\x00" + canvas + bytes(180)
    monkeypatch.setattr(Image, "open", _never_called)
    assert "20000x20000" in _refused(data, "too_many_pixels").message


def test_the_pixel_limit_is_the_callers(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _encode(_screen(1_200, 1_000), "PNG")
    monkeypatch.setattr(Image, "open", _never_called)
    error = _refused(data, "too_many_pixels", max_pixels=1_000_000)
    assert "1200x1000 pixels (1 megapixels), over the 1-megapixel limit" in error.message


@pytest.mark.parametrize(("width", "height"), [(100_000, 10), (40_000, 500), (3_000, 64)])
def test_absurd_shapes_are_refused(width: int, height: int) -> None:
    data = _png_header(width, height) + _png_chunk(b"IEND", b"")
    error = _refused(data, "bad_dimensions")
    assert f"{width}x{height} pixels, not the shape of a photo or screenshot" in error.message


def test_damaged_files_only_ever_raise_image_input_error() -> None:
    rng = random.Random(20240607)
    sources = [
        _encode(_screen(), "PNG"),
        _encode(_screen(), "JPEG", quality=80, progressive=True),
        _encode(_screen(), "WEBP", quality=80),
        _encode(_screen(), "WEBP", lossless=True),
    ]
    refusals: list[ImageInputError] = []
    for source in sources:
        for _ in range(40):
            damaged = bytearray(source)
            for _ in range(rng.randint(1, 6)):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            cut = bytes(damaged[: rng.randint(1, len(damaged))])
            try:
                loaded = load_image(cut)
            except ImageInputError as error:
                refusals.append(error)
            else:
                assert loaded.rgb.shape == (loaded.height, loaded.width, 3)
    assert len(refusals) > 100
    assert {error.code for error in refusals} <= ERROR_CODES
    assert all("PNG, JPEG or WebP" in error.message for error in refusals)


# --- downscale --------------------------------------------------------------------------------


def test_downscale_shrinks_the_longer_side() -> None:
    loaded = load_image(_encode(_screen(3_200, 1_000), "PNG"))
    small, scale = downscale(loaded, max_side=1_600)
    assert small.shape == (500, 1_600, 3)
    assert scale == 0.5
    _assert_red_left_blue_right(
        LoadedImage(rgb=small, width=1_600, height=500, format="PNG", exif_rotated=False)
    )


def test_downscale_keeps_a_small_picture() -> None:
    rgb = np.zeros((300, 200, 3), np.uint8)
    same, scale = downscale(rgb, max_side=1_600)
    assert same is rgb
    assert scale == 1.0
    with pytest.raises(ValueError, match="max_side"):
        downscale(rgb, max_side=0)
