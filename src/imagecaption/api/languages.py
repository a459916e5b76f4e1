"""Which language a caption is written in: the ``lang`` option, else ``Accept-Language``.

Tags are BCP 47, parsed and compared by ``langcodes`` with CLDR's language distances, so a region
or script the model does not serve falls back to the language it does: ``pt-BR`` is answered in
``pt`` where only ``pt`` is served, ``en-GB`` in ``en``, ``de-CH`` in ``de``. Two tags match when
their distance is at most ``MATCH_DISTANCE``: regional variants (0 to 5) and close standard forms
(Swiss German to German, 8) match, another language never does (Catalan is 20 from Spanish,
Danish 12 from Norwegian, Traditional Chinese 54 from Simplified). The answer's
``Content-Language`` is the tag served, as the model lists it.

A ``lang`` that matches nothing served is refused (400, listing the languages); an
``Accept-Language`` is a browser's preference, not a request, so one that matches nothing (or
cannot be parsed) falls back to English, as the hosted service always answers.
"""

from __future__ import annotations

from collections.abc import Sequence

import langcodes

from imagecaption.errors import BadInput

DEFAULT_LANGUAGE = "en"
MATCH_DISTANCE = 10
MAX_PREFERENCES = 20
"""Accept-Language entries read; browsers send a handful, and matching each costs a lookup."""


def negotiate(lang: str | None, accept_language: str | None, served: Sequence[str]) -> str:
    """The tag of ``served`` that the caption is written in."""
    if lang is not None:
        match = _closest(lang, served)
        if match is None:
            raise BadInput(
                f"The language {lang!r} is not served by this model; it captions in: "
                f"{', '.join(served)}."
            )
        return match
    for wanted in preferences(accept_language or ""):
        match = _closest(wanted, served)
        if match is not None:
            return match
    return DEFAULT_LANGUAGE if DEFAULT_LANGUAGE in served else served[0]


def preferences(header: str) -> list[str]:
    """The tags of an ``Accept-Language`` header, most wanted first (RFC 9110's q-values; equal
    ones keep their order). ``*`` and entries with q=0 or a malformed weight are left out."""
    weighted: list[tuple[float, int, str]] = []
    for index, entry in enumerate(header.split(",")[:MAX_PREFERENCES]):
        tag, _, parameters = entry.partition(";")
        tag = tag.strip()
        quality = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        if tag and tag != "*" and 0 < quality <= 1:
            weighted.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(weighted)]


def _closest(tag: str, served: Sequence[str]) -> str | None:
    tag = tag.strip().replace("_", "-")  # locales as CMSs write them: de_DE, pt_BR
    if not langcodes.tag_is_valid(tag):
        return None
    match = langcodes.closest_supported_match(tag, list(served), max_distance=MATCH_DISTANCE)
    return None if match is None else str(match)
