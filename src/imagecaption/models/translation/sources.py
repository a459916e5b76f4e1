"""Which configured translations can serve here, found without the network.

A translation model is never downloaded while the server starts (five of them are gigabytes):
``imagecaption models pull --translations`` fetches them, and ``serve`` uses those on the
machine. A language whose model is not here is left out of the model's languages, and the log
says how to add it. A model folder is exported to ONNX once (with the models extra) into
``<data_dir>/models/onnx/translation``; an exported translation folder serves as it is.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

from imagecaption.models import hub
from imagecaption.models.translation.translator import (
    Translator,
    is_translation_export,
    translation_type,
)
from imagecaption.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TranslationSource:
    language: str
    reference: str
    folder: Path
    exported: bool


def available_translations(settings: Settings) -> list[TranslationSource]:
    found = []
    extra = importlib.util.find_spec("transformers") is not None
    for language, reference in settings.translation_models.items():
        folder = hub.find_local(reference, settings.data_dir)
        if folder is not None and is_translation_export(folder):
            found.append(TranslationSource(language, reference, folder, exported=True))
        elif folder is not None and translation_type(folder) is not None and extra:
            found.append(TranslationSource(language, reference, folder, exported=False))
        elif folder is not None and translation_type(folder) is not None:
            log.warning(
                "captions in %s need %s exported first ('imagecaption models export' where "
                "the models extra is installed); serving without it",
                language,
                reference,
            )
        else:
            log.info(
                "captions in %s are not served: %s is not on this machine "
                "(imagecaption models pull --translations)",
                language,
                reference,
            )
    return found


def open_translator(source: TranslationSource, settings: Settings, threads: int) -> Translator:
    folder = source.folder
    if not source.exported:
        from imagecaption.models.translation.export import cached_export

        cache = hub.local_models_dir(settings.data_dir) / "onnx" / "translation"
        folder = cached_export(folder, cache, settings.quantize)
    return Translator(folder, threads)
