"""Everything between the bytes a client sent (or a URL it named) and an RGB image for the model.

Each module has one job: sniff the type, decode inline base64, enforce the byte limit, fetch URLs
safely, and decode pixels. The API layer only needs the names below.
"""

from imagecaption.images.addresses import AddressPolicy, is_public_address
from imagecaption.images.budget import PixelBudget
from imagecaption.images.decode import Decoded, content_hash, decode_image
from imagecaption.images.decoder import ImageDecoder
from imagecaption.images.fetch import ImageFetcher
from imagecaption.images.inline import classify_image_value, decode_inline_image
from imagecaption.images.limits import check_content_length, payload_too_large, read_limited
from imagecaption.images.sniff import ACCEPTED_TYPES, ImageFormat, sniff_format

__all__ = [
    "ACCEPTED_TYPES",
    "AddressPolicy",
    "Decoded",
    "ImageDecoder",
    "ImageFetcher",
    "ImageFormat",
    "PixelBudget",
    "check_content_length",
    "classify_image_value",
    "content_hash",
    "decode_image",
    "decode_inline_image",
    "is_public_address",
    "payload_too_large",
    "read_limited",
    "sniff_format",
]
