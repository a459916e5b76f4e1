"""A full model with the read stage beside it (full_model_reads_text), on a tiny GIT model."""

from __future__ import annotations

import pytest

from imagecaption.models.base import CaptionOptions
from imagecaption.models.hf.captioner import TransformersCaptioner
from imagecaption.models.reading import TextReadingCaptioner
from imagecaption.models.registry import create_captioner
from imagecaption.settings import Settings
from tests.conftest import photo
from tests.models.hf.conftest import Folders, make_backend
from tests.text_images import lettering


@pytest.fixture(scope="module")
def captioners(
    folders: Folders, tmp_path_factory: pytest.TempPathFactory
) -> tuple[TransformersCaptioner, TextReadingCaptioner]:
    folder = folders("git")
    cache = tmp_path_factory.mktemp("onnx")
    plain = TransformersCaptioner("git", lambda: folder, make_backend("torch", cache))
    plain.load()
    inner = TransformersCaptioner("git", lambda: folder, make_backend("torch", cache))
    reading = TextReadingCaptioner(inner, threads=2)
    reading.load()
    return plain, reading


def test_the_words_read_are_added_to_the_models_caption(
    captioners: tuple[TransformersCaptioner, TextReadingCaptioner],
) -> None:
    plain, reading = captioners
    sign = lettering("EXIT", 64)
    alone = plain.caption_batch([sign], CaptionOptions())[0]
    result = reading.caption_batch([sign], CaptionOptions())[0]
    assert result.text == f'{alone.text} with the words "EXIT"'
    assert result.text_lines is not None
    assert [line.text for line in result.text_lines] == ["EXIT"]
    assert reading.info.text_reader is not None


def test_pictures_without_text_keep_the_models_caption(
    captioners: tuple[TransformersCaptioner, TextReadingCaptioner],
) -> None:
    plain, reading = captioners
    picture = photo("chelsea")
    alone = plain.caption_batch([picture], CaptionOptions(num_captions=2))[0]
    result = reading.caption_batch([picture], CaptionOptions(num_captions=2))[0]
    assert (result.text, result.candidates) == (alone.text, alone.candidates)
    assert result.text_lines == ()


def test_a_request_can_turn_reading_off(
    captioners: tuple[TransformersCaptioner, TextReadingCaptioner],
) -> None:
    plain, reading = captioners
    sign = lettering("EXIT", 64)
    off = CaptionOptions(read_text=False)
    assert reading.caption_batch([sign], off) == plain.caption_batch([sign], off)


def test_the_setting_puts_the_reader_beside_a_full_model(folders: Folders) -> None:
    folder = str(folders("git"))
    assert isinstance(
        create_captioner(Settings(model=folder, backend="torch", full_model_reads_text=True)),
        TextReadingCaptioner,
    )
    assert isinstance(
        create_captioner(Settings(model=folder, backend="torch")), TransformersCaptioner
    )
