"""Exported translation models write what transformers' generate() writes, without torch."""

from __future__ import annotations

import subprocess
import sys

import pytest
import transformers as tf

from imagecaption.models.base import ModelError
from imagecaption.models.translation.marian_tokens import marian_tokenizers
from imagecaption.models.translation.translator import Translator
from tests.models.hf.tiny import CAPTIONS
from tests.models.translation.conftest import Exports, Models

# Of different lengths, so that a batch is padded; one with words the vocabulary cannot spell.
SENTENCES = [*CAPTIONS, "a dog", "A Cat,  sitting on the TABLE!"]
TARGETS = {"marian": "de", "nllb": "fr"}


def test_the_marian_tokenizer_file_cuts_and_joins_as_transformers_does(
    translation_models: Models,
) -> None:
    folder = translation_models("marian")
    reference = tf.AutoTokenizer.from_pretrained(folder)
    source, target = marian_tokenizers(folder, 256)
    for sentence in SENTENCES:
        ids = reference(sentence)["input_ids"]
        assert source.encode(sentence).ids == ids, sentence
        # The translator writes one line with single spaces, whatever pieces were skipped.
        assert _line(target.decode(ids, skip_special_tokens=True)) == _line(
            reference.decode(ids, skip_special_tokens=True)
        )


def _line(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("kind", ["marian", "nllb"])
def test_float32_export_writes_the_tokens_of_generate(
    kind: str, translation_models: Models, translation_exports: Exports
) -> None:
    folder = translation_models(kind)
    tokenizer = tf.AutoTokenizer.from_pretrained(folder)
    model = tf.AutoModelForSeq2SeqLM.from_pretrained(folder).eval()
    translator = Translator(translation_exports(kind, False), threads=2)
    target = translator.target(TARGETS[kind])
    batch = tokenizer(SENTENCES, return_tensors="pt", padding=True)
    forced = {} if target is None else {"forced_bos_token_id": target}
    written = model.generate(**batch, do_sample=False, num_beams=1, **forced)
    expected = [_line(t) for t in tokenizer.batch_decode(written, skip_special_tokens=True)]
    translated = translator.translate(SENTENCES, target)
    assert translated == expected
    assert any(translated), "the tiny models must write some text for this to mean anything"


@pytest.mark.parametrize("kind", ["marian", "nllb"])
def test_int8_translations_do_not_depend_on_the_batch(
    kind: str, translation_exports: Exports
) -> None:
    translator = Translator(translation_exports(kind, True), threads=2)
    target = translator.target(TARGETS[kind])
    together = translator.translate(SENTENCES, target)
    assert together == [translator.translate([s], target)[0] for s in SENTENCES]


def test_a_multilingual_model_finds_each_language_by_its_tag(translation_exports: Exports) -> None:
    translator = Translator(translation_exports("nllb", True), threads=2)
    codes = {lang: translator.target(lang) for lang in ("fr", "pt", "pt-BR", "zh", "zh-TW")}
    assert codes["pt"] == codes["pt-BR"] != codes["fr"]
    assert codes["zh"] != codes["zh-TW"]  # Simplified and Traditional are two targets
    with pytest.raises(ModelError, match="does not translate into 'tlh'"):
        translator.target("tlh")
    marian = Translator(translation_exports("marian", True), threads=2)
    assert marian.target("de") is None  # one language per model: nothing to choose


def test_an_exported_folder_translates_without_torch_or_transformers(
    translation_exports: Exports,
) -> None:
    folder = translation_exports("marian", True)
    script = f"""
import sys
sys.modules["torch"] = None
sys.modules["transformers"] = None
from pathlib import Path
from imagecaption.models.translation.translator import Translator
translator = Translator(Path({str(folder)!r}), threads=1)
print(translator.translate(["a cat sitting on a table"], None)[0])
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    expected = Translator(folder, threads=1).translate(["a cat sitting on a table"], None)[0]
    assert done.stdout.strip() == expected.strip()
