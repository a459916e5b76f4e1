"""Spanish captions: the sentence each made-up plan or detection must give, reviewed by a
native speaker for gender and number agreement, articles ("un águila", "el arpa"), "al" and
"del", plurals after numbers, colours after the noun, word order and idiom; word limits counted
in Spanish words, alternatives and tags in Spanish, and quotes kept exactly as read."""

from __future__ import annotations

import numpy as np
import pytest

from imagecaption.models.base import CaptionOptions, TextLine
from imagecaption.models.offline import OfflineCaptioner
from imagecaption.models.offline.compose.languages import realiser
from imagecaption.models.offline.compose.plans import Plan, Ref
from imagecaption.models.offline.compose.sentence import Findings, SentenceWriter
from imagecaption.models.offline.compose.things import find_things
from imagecaption.models.offline.compose.vocabulary import load_nouns
from imagecaption.models.offline.faces import Face
from imagecaption.models.offline.labels import load_labels
from tests.models.test_sentence import PERSON, Box, probabilities, write


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        # Gender and the article: "un" before a feminine noun with a stressed first "a"
        (Plan((Ref("a bald eagle"),), place="on a cliff"),
         "un pigargo americano en un acantilado"),
        (Plan((Ref("a hatchet"),), place="on the grass"), "un hacha en la hierba"),
        (Plan((Ref("an airplane wing"),)), "un ala de avión"),
        (Plan((Ref("a bird of prey"),), frame="possibly"), "posiblemente un ave rapaz"),
        (Plan((Ref("a person"),), relation="with", other=Ref("a water bird")),
         "una persona con un ave acuática"),
        # The definite article of instruments, "el" before a stressed a as well
        (Plan((Ref("a person"),), relation="playing", other=Ref("a harp")),
         "una persona tocando el arpa"),
        (Plan((Ref("a person"),), relation="playing", other=Ref("a guitar")),
         "una persona tocando la guitarra"),
        # "a el" is "al", "de el" is "del"
        (Plan((Ref("a person", 2),), relation="playing baseball"),
         "dos personas jugando al béisbol"),
        (Plan((Ref("a person"),), doing="sitting", place="by the water"),
         "una persona sentada a la orilla del agua"),
        # Plurals after numbers, "varios" and "varias" by gender
        (Plan((Ref("a bus", 3),), place="on a street"), "tres autobuses en una calle"),
        (Plan((Ref("a fish", 4),), place="in the water"), "cuatro peces en el agua"),
        (Plan((Ref("a sheep", 8),)), "varias ovejas"),
        (Plan((Ref("a horse", 5),), doing="grazing", place="in a field"),
         "varios caballos pastando en un campo"),
        (Plan((Ref("a pair of scissors", 2, label="scissors"),), relation="on",
              other=Ref("a table")),
         "dos pares de tijeras sobre una mesa"),
        (Plan((Ref("skis", 3, label="skis"),)), "tres pares de esquís"),
        # Colours after the noun, agreeing with it where they have two forms
        (Plan((Ref("a bicycle", colour="red"),), place="on a street"),
         "una bicicleta roja en una calle"),
        (Plan((Ref("a car", colour="white"),), place="on a road"),
         "un coche blanco en una carretera"),
        (Plan((Ref("a backpack", colour="blue"),)), "una mochila azul"),
        (Plan((Ref("a person"),), relation="holding", other=Ref("an umbrella", colour="black")),
         "una persona con un paraguas negro en la mano"),
        (Plan((Ref("a person"),), relation="wearing", other=Ref("a tie", colour="red")),
         "una persona con una corbata roja"),
        # Participles agree with the subject's gender and number
        (Plan((Ref("a person", 3),), relation="sitting on", other=Ref("a bench")),
         "tres personas sentadas en un banco"),
        (Plan((Ref("a cat", 2),), relation="lying on", other=Ref("a bed")),
         "dos gatos tumbados en una cama"),
        (Plan((Ref("a cow", 3),), doing="lying"), "tres vacas tumbadas"),
        (Plan((Ref("a person", 2),), relation="riding", other=Ref("a motorcycle", 2)),
         "dos personas montadas en dos motos"),
        (Plan((Ref("a person", 2),), relation="at", other=Ref("a table"),
              place="in a restaurant"),
         "dos personas sentadas a una mesa en un restaurante"),
        # Other relations and places
        (Plan((Ref("a person"),), relation="flying", other=Ref("a kite", label="kite")),
         "una persona volando una cometa"),
        (Plan((Ref("a person"),), relation="on", other=Ref("a surfboard"), place="in the water"),
         "una persona sobre una tabla de surf en el agua"),
        (Plan((Ref("a person"),), relation="in a canoe"), "una persona en una canoa"),
        (Plan((Ref("a person", 2),), doing="standing", place="in the snow"),
         "dos personas de pie en la nieve"),
        (Plan((Ref("a person", 4), Ref("a building")), place="against the sky"),
         "cuatro personas y un edificio con el cielo de fondo"),
        (Plan((Ref("a person"), Ref("a dog"), Ref("a cat"))), "una persona, un perro y un gato"),
        # Frames and hedges
        (Plan((Ref("a person"),), frame="portrait", relation="wearing",
              other=Ref("a military uniform")),
         "un retrato de una persona con un uniforme militar"),
        (Plan((Ref("a dog"),), frame="black and white photo", relation="playing with",
              other=Ref("a ball"), place="on the grass"),
         "una foto en blanco y negro de un perro jugando con una pelota en la hierba"),
        (Plan((Ref("bread"),), frame="black and white photo"), "una foto en blanco y negro de pan"),
        (Plan((Ref("a hedge maze"),), frame="hedge"),
         "una imagen que podría mostrar un laberinto de setos"),
        # Quotes stay exactly as read: never contracted, never translated
        (Plan((Ref("a computer monitor"),), text="showing", quote="Bienvenido de el"),
         "un monitor que muestra «Bienvenido de el»"),
        (Plan((Ref("a stop sign"),), text="reads", quote="ALTO"),
         "una señal de stop con el texto «ALTO»"),
        (Plan((), text="screenshot", quote="Iniciar sesión"),
         "una captura de pantalla de una página titulada «Iniciar sesión»"),
        (Plan((), text="page", quote="En un lugar de la Mancha..."),
         "una página de texto impreso que empieza con «En un lugar de la Mancha...»"),
        (Plan((), text="words", quote="OPEN"), "las palabras «OPEN»"),
    ],
)  # fmt: skip
def test_spanish_grammar_of_plans(plan: Plan, expected: str) -> None:
    assert realiser("es").sentence(plan) == expected


@pytest.fixture(scope="module")
def writer() -> SentenceWriter:
    return SentenceWriter(load_labels(), load_nouns())


BEACH = probabilities(c978=0.5)
SUIT, HARP = {"person": probabilities(c834=0.6)}, {"person": probabilities(c594=0.6)}
CAT = [Box("cat", 0.8, 0.2, 0.2, 0.8, 0.9)]
RACKET = [PERSON, Box("tennis racket", 0.7, 0.5, 0.3, 0.58, 0.45)]
TABBY = {"cat": probabilities(c281=0.6, c282=0.3)}
COUCH = [
    Box("dog", 0.8, 0.1, 0.3, 0.45, 0.7),
    Box("cat", 0.7, 0.5, 0.35, 0.8, 0.7),
    Box("couch", 0.7, 0.0, 0.2, 1.0, 1.0),
]


@pytest.mark.parametrize(
    ("boxes", "scene", "crops", "max_length", "expected"),
    [
        ([PERSON], None, HARP, None, "Una persona tocando el arpa."),
        ([PERSON, Box("horse", 0.8, 0.2, 0.4, 0.8, 0.99)], None, None, None,
         "Una persona montada en un caballo."),
        ([Box("sheep", 0.8, 0.1 * i, 0.4, 0.1 * i + 0.09, 0.6) for i in range(3)], None, None,
         None, "Tres ovejas."),
        ([Box("person", 0.8, 0.1 * i, 0.2, 0.1 * i + 0.09, 0.8) for i in range(7)], None, None,
         None, "Un grupo de personas."),
        # A word limit counts Spanish words, and a noun phrase cut short keeps its noun, which
        # comes first ("gato atigrado")
        ([PERSON], BEACH, SUIT, None, "Una persona con un traje en una playa."),
        ([PERSON], BEACH, SUIT, 5, "Una persona con un traje."),
        ([PERSON], BEACH, SUIT, 4, "Una persona."),
        ([PERSON], BEACH, SUIT, 1, "Persona."),
        # six English words, ten Spanish ones
        (RACKET, None, None, 10, "Una persona con una raqueta de tenis en la mano."),
        (RACKET, None, None, 9, "Una persona."),
        (CAT, None, TABBY, None, "Un gato atigrado."),
        (CAT, None, TABBY, 1, "Gato."),
    ],
)  # fmt: skip
def test_spanish_captions_of_detections(
    writer: SentenceWriter,
    boxes: list[Box],
    scene: np.ndarray | None,
    crops: dict[str, np.ndarray] | None,
    max_length: int | None,
    expected: str,
) -> None:
    caption = write(writer, boxes, scene, crops, lang="es", max_length=max_length)
    assert caption.text == expected


def test_alternatives_and_tags_come_in_spanish(writer: SentenceWriter) -> None:
    english = write(writer, COUCH, num_captions=3)
    spanish = write(writer, COUCH, lang="es", num_captions=3)
    assert spanish.text == "Un perro y un gato sobre un sofá."
    assert [c.score for c in spanish.candidates or ()] == [
        c.score for c in english.candidates or ()
    ]
    tagged = write(writer, CAT, BEACH, TABBY, lang="es")
    assert [t.name for t in tagged.tags or ()] == ["gato atigrado", "gato", "playa"]


def test_the_portrait_frame(writer: SentenceWriter) -> None:
    face = Face(0.35, 0.2, 0.65, 0.6, score=0.9)
    assert write(writer, [PERSON], faces=[face], lang="es").text == "Un retrato de una persona."


def test_quotes_stay_as_read(writer: SentenceWriter) -> None:
    """The words read are quoted between Spanish marks exactly, "de el" not made "del"."""
    things, portrait = find_things([], [], load_nouns())
    street_sign = probabilities(c919=0.9)
    for read, quoted in (("Main St. 5 ÄÖ", "«Main St. 5 ÄÖ»"), ("de el", "«de el»")):
        lines = (TextLine(read, 0.99, (0.2, 0.4, 0.8, 0.5)),)
        findings = Findings(things, portrait, street_sign, text=lines)
        caption = writer.write(findings, CaptionOptions(lang="es")).text
        assert caption == f"Un letrero de calle con el texto {quoted}."


def test_the_captioner_lists_spanish() -> None:
    assert "es" in OfflineCaptioner().info.languages
