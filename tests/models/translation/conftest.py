"""Tiny translation models, built and exported once per session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from imagecaption.models.translation.export import export_translation
from tests.models.hf.conftest import folders  # noqa: F401 (the tiny captioners, served here too)
from tests.models.translation import tiny

Models = Callable[[str], Path]
Exports = Callable[[str, bool], Path]


@pytest.fixture(scope="session")
def translation_models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    made: dict[str, Path] = {}

    def model(kind: str) -> Path:
        if kind not in made:
            made[kind] = getattr(tiny, kind)(tmp_path_factory.mktemp(f"tiny-{kind}"))
        return made[kind]

    return model


@pytest.fixture(scope="session")
def translation_exports(
    translation_models: Models, tmp_path_factory: pytest.TempPathFactory
) -> Exports:
    made: dict[tuple[str, bool], Path] = {}

    def exported(kind: str, quantize: bool) -> Path:
        if (kind, quantize) not in made:
            work = tmp_path_factory.mktemp(f"{kind}-{'int8' if quantize else 'fp32'}")
            export_translation(translation_models(kind), work, f"tiny-{kind}", None, quantize)
            made[kind, quantize] = work
        return made[kind, quantize]

    return exported
