"""Which captioner serves, by name; adding a backend is one entry here."""

from __future__ import annotations

from collections.abc import Callable

from imagecaption.errors import BadInput
from imagecaption.models.base import Captioner
from imagecaption.settings import Settings


def _offline(settings: Settings) -> Captioner:
    from imagecaption.models.offline import OfflineCaptioner

    return OfflineCaptioner(
        cache_dir=settings.data_dir / "models", threads=settings.inference_threads
    )


BACKENDS: dict[str, Callable[[Settings], Captioner]] = {
    "offline": _offline,
}


def create_captioner(settings: Settings) -> Captioner:
    try:
        factory = BACKENDS[settings.model]
    except KeyError:
        known = ", ".join(sorted(BACKENDS))
        raise BadInput(f"Unknown model {settings.model!r}; available: {known}.") from None
    return factory(settings)
