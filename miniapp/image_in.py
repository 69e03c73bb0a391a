"""Pictures in: a chat picture, an API upload or a CLI file, checked and decoded to RGB.

Only PNG, JPEG and WebP are accepted. The format is told from the file's own bytes (the magic
number, then Pillow restricted to that one format); a filename or content type is never trusted
and serves only to name the file in an error message.

Everything that could cost time or memory is checked before the pixels are decoded: the byte
size first, then the dimensions read from the format's own header (PNG IHDR, JPEG SOF, WebP
VP8/VP8L/VP8X) by this module, so the decompression-bomb limit holds whatever Pillow's global
``Image.MAX_IMAGE_PIXELS`` is set to (it is never changed here). A caller who raises
``max_pixels`` above Pillow's own limit gets Pillow's ``DecompressionBombWarning`` too.

An animated PNG or WebP is accepted and its first frame is used: a sketch or screenshot sent as an
animation still shows the screen in its first frame, and refusing it would only make the user
convert it by hand. ``LoadedImage.frame_count`` tells the caller that frames were dropped.

The EXIF orientation is applied, so a phone photo comes out upright, and every colour mode
(palette, grey, grey+alpha, RGBA, CMYK, 16-bit) becomes 8-bit RGB, transparency over white.
Every rejection is an ``ImageInputError`` whose message says what was wrong and what is accepted.
"""

from __future__ import annotations

import io
import struct
import unicodedata
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from PIL import Image

ImageFormat = Literal["PNG", "JPEG", "WEBP"]
RGBArray = npt.NDArray[np.uint8]

MIN_SIDE = 64
"""Smaller than this on either side, a picture cannot show a readable screen."""
MAX_SIDE = 32_768
"""Longer than this on a side, a picture is not a photo or screenshot (WebP stops at 16383)."""
MAX_ASPECT = 25.0
"""Long scrolling screenshots reach about 20:1; beyond this the shape is absurd."""

_ORIENTATION_TAG = 0x0112
_TRANSPOSE_FOR_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_JPEG_SOF_MARKERS = frozenset(
    {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
)
_BMP_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})


class ImageInputError(ValueError):
    """A picture that cannot be used; ``code`` is stable for programs, ``message`` is for people.

    Codes: ``empty``, ``too_large``, ``not_image``, ``unsupported_format``, ``corrupt``,
    ``too_many_pixels``, ``bad_dimensions``, ``too_small``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, eq=False, slots=True)
class LoadedImage:
    """A decoded picture: ``rgb`` is a read-only H x W x 3 uint8 array, upright."""

    rgb: RGBArray
    width: int
    height: int
    format: ImageFormat
    exif_rotated: bool
    frame_count: int = 1


def load_image(
    data: bytes,
    *,
    max_bytes: int = 15_000_000,
    max_pixels: int = 40_000_000,
    filename: str | None = None,
) -> LoadedImage:
    """Check and decode one PNG, JPEG or WebP picture; raise ``ImageInputError`` otherwise."""
    limits = _Limits(max_bytes=max_bytes, max_pixels=max_pixels, subject=_subject(filename))
    if not data:
        raise ImageInputError("empty", f"{limits.subject} is empty (0 bytes); {limits.accepted}")
    if len(data) > max_bytes:
        raise ImageInputError(
            "too_large",
            f"{limits.subject} is {_megabytes(len(data))}, over the {_megabytes(max_bytes)} "
            f"limit; {limits.accepted}",
        )
    image_format = _sniff_format(data, limits)
    width, height = _header_size(data, image_format, limits)
    _check_dimensions(width, height, limits)
    return _decode(data, image_format, (width, height), limits)


def downscale(image: LoadedImage | RGBArray, max_side: int = 1600) -> tuple[RGBArray, float]:
    """Shrink so the longer side is at most ``max_side``; return the pixels and the scale used.

    A coordinate in the returned picture divided by the scale is a coordinate in the original.
    A picture already small enough comes back as it is, with scale 1.0.
    """
    if max_side < 1:
        raise ValueError(f"max_side must be a positive number of pixels, not {max_side}")
    rgb = image.rgb if isinstance(image, LoadedImage) else image
    height, width = rgb.shape[:2]
    longest = max(width, height)
    if longest <= max_side:
        return rgb, 1.0
    scale = max_side / longest
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return np.asarray(resized, dtype=np.uint8), scale


@dataclass(frozen=True, slots=True)
class _Limits:
    max_bytes: int
    max_pixels: int
    subject: str

    @property
    def accepted(self) -> str:
        return f"send a PNG, JPEG or WebP photo or screenshot up to {_megabytes(self.max_bytes)}"


def _subject(filename: str | None) -> str:
    if not filename:
        return "this"
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")[:80]
    return f"'{name}'" if name else "this"


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.3g} MB"


def _sniff_format(data: bytes, limits: _Limits) -> ImageFormat:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    other_image = _other_image_format(data)
    if other_image is not None:
        raise ImageInputError(
            "unsupported_format", f"{limits.subject} is {other_image}; {limits.accepted}"
        )
    raise ImageInputError(
        "not_image", f"{limits.subject} is {_describe_non_image(data)}; {limits.accepted}"
    )


def _other_image_format(data: bytes) -> str | None:
    """Name the picture formats people send by mistake; None if it is no picture we know."""
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "a GIF"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "a TIFF"
    if (
        data[:2] == b"BM"
        and len(data) >= 18
        and struct.unpack("<I", data[14:18])[0] in (_BMP_HEADER_SIZES)
    ):
        return "a BMP"
    if data[:4] == b"\x00\x00\x01\x00":
        return "an icon (ICO)"
    if data[:4] == b"8BPS":
        return "a Photoshop document (PSD)"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"):
            return "a HEIC photo (set the camera to 'Most Compatible' or take a screenshot)"
        if brand in (b"avif", b"avis"):
            return "an AVIF picture"
    if data.startswith((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")):
        return "a JPEG 2000 picture"
    if data.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n")):
        return "a JPEG XL picture"
    head = _text_head(data)
    if head is not None and "<svg" in head.lower():
        return "an SVG drawing"
    return None


def _describe_non_image(data: bytes) -> str:
    if data.startswith(b"%PDF"):
        return "a PDF document, not a picture"
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "a ZIP archive or Office document, not a picture"
    if data.startswith(b"\x1f\x8b"):
        return "a gzip archive, not a picture"
    if data[:4] == b"RIFF":
        return "a RIFF file (audio or video), not a picture"
    if data[4:8] == b"ftyp":
        return "a video, not a picture"
    head = _text_head(data)
    if head is not None:
        lowered = head.lstrip("\ufeff \t\r\n").lower()
        if lowered.startswith(("<!doctype html", "<html")) or "<html" in lowered[:1000]:
            return "an HTML page, not a picture"
        return "text, not a picture"
    return "not a picture (no PNG, JPEG or WebP header)"


def _text_head(data: bytes) -> str | None:
    """The first 2 KB as text when the bytes look like text, else None."""
    head = data[:2048]
    if b"\x00" in head:
        return None
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start >= len(head) - 3 and error.reason == "unexpected end of data":
            return head[: error.start].decode("utf-8")
        return None


def _header_size(data: bytes, image_format: ImageFormat, limits: _Limits) -> tuple[int, int]:
    try:
        if image_format == "PNG":
            size = _png_size(data)
        elif image_format == "JPEG":
            size = _jpeg_size(data)
        else:
            size = _webp_size(data)
    except (IndexError, struct.error):
        size = None
    if size is None:
        raise _corrupt(image_format, "its header is incomplete", limits)
    return size


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Walk the marker segments to the first start-of-frame, which holds the dimensions."""
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:
            position += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:
            position += 2
            continue
        if marker in (0xD9, 0xDA):
            return None
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if marker in _JPEG_SOF_MARKERS:
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return int(width), int(height)
        if length < 2:
            return None
        position += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return int(width) & 0x3FFF, int(height) & 0x3FFF
    if chunk == b"VP8L" and data[20] == 0x2F:
        (bits,) = struct.unpack("<I", data[21:25])
        return (int(bits) & 0x3FFF) + 1, ((int(bits) >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    return None


def _check_dimensions(width: int, height: int, limits: _Limits) -> None:
    if width == 0 or height == 0:
        raise ImageInputError(
            "corrupt",
            f"{limits.subject} declares a size of {width}x{height} pixels, which no picture "
            f"has; {limits.accepted}",
        )
    if width * height > limits.max_pixels:
        raise ImageInputError(
            "too_many_pixels",
            f"{limits.subject} is {width}x{height} pixels "
            f"({width * height / 1e6:.0f} megapixels), over the "
            f"{limits.max_pixels / 1e6:g}-megapixel limit; send a PNG, JPEG or WebP of at most "
            f"{limits.max_pixels / 1e6:g} megapixels and {_megabytes(limits.max_bytes)}",
        )
    if max(width, height) > MAX_SIDE or max(width, height) / min(width, height) > MAX_ASPECT:
        raise ImageInputError(
            "bad_dimensions",
            f"{limits.subject} is {width}x{height} pixels, not the shape of a photo or "
            f"screenshot (at most {MAX_SIDE} pixels a side and {MAX_ASPECT:g}:1); "
            f"{limits.accepted}",
        )
    if min(width, height) < MIN_SIDE:
        raise ImageInputError(
            "too_small",
            f"{limits.subject} is only {width}x{height} pixels; send a PNG, JPEG or WebP at "
            f"least {MIN_SIDE} pixels on each side, up to {_megabytes(limits.max_bytes)}",
        )


def _corrupt(image_format: ImageFormat, reason: str, limits: _Limits) -> ImageInputError:
    name = "WebP" if image_format == "WEBP" else image_format
    return ImageInputError(
        "corrupt",
        f"{limits.subject} is a damaged or cut-off {name} file ({reason}); send the picture "
        f"again, as a PNG, JPEG or WebP photo or screenshot up to {_megabytes(limits.max_bytes)}",
    )


def _decode(
    data: bytes, image_format: ImageFormat, header_size: tuple[int, int], limits: _Limits
) -> LoadedImage:
    # Pillow's decoders raise many exception types on bad input (OSError, SyntaxError,
    # struct.error, EOFError, ValueError, ...); every one of them means a damaged file here.
    try:
        with Image.open(io.BytesIO(data), formats=[image_format]) as image:
            if image.size != header_size:
                raise _corrupt(image_format, "its header contradicts itself", limits)
            frame_count = int(getattr(image, "n_frames", 1))
            image.load()
            orientation = _orientation(image)
            rgb_image = _to_rgb(image)
    except ImageInputError:
        raise
    except Image.DecompressionBombError as error:
        raise ImageInputError(
            "too_many_pixels",
            f"{limits.subject} has too many pixels to decode safely ({error}); {limits.accepted}",
        ) from error
    except MemoryError as error:
        raise ImageInputError(
            "too_many_pixels",
            f"{limits.subject} is too big to decode in the memory available; {limits.accepted}",
        ) from error
    except Exception as error:
        reason = str(error).strip() or type(error).__name__
        raise _corrupt(image_format, reason, limits) from error
    transpose = _TRANSPOSE_FOR_ORIENTATION.get(orientation)
    if transpose is not None:
        rgb_image = rgb_image.transpose(transpose)
    rgb = np.array(rgb_image, dtype=np.uint8)
    rgb.flags.writeable = False
    return LoadedImage(
        rgb=rgb,
        width=rgb_image.width,
        height=rgb_image.height,
        format=image_format,
        exif_rotated=transpose is not None,
        frame_count=frame_count,
    )


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1 = upright); a damaged EXIF block is no reason to refuse a photo."""
    try:
        value = image.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:
        return 1
    return value if isinstance(value, int) else 1


def _to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode == "RGB":
        return image.copy()
    if mode.startswith("I;16") or mode == "I":
        wide = np.asarray(image).astype(np.int64)
        grey = np.rint(wide.clip(0, 65535) / 257).astype(np.uint8)
        return Image.fromarray(np.repeat(grey[:, :, None], 3, axis=2))
    if mode == "F":
        grey = np.asarray(image, dtype=np.float64).clip(0, 255).astype(np.uint8)
        return Image.fromarray(np.repeat(grey[:, :, None], 3, axis=2))
    has_alpha = mode in ("RGBA", "RGBa", "LA", "La", "PA") or (
        mode == "P" and "transparency" in image.info
    )
    if mode == "L" and "transparency" in image.info:
        has_alpha = True
    if has_alpha:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")
