"""Captions in other languages, on the sentence rules' made-up detections: per language, the
sentence each must give (reviewed for gender, articles, case, plurals, counts, contractions),
word limits counted in the language, alternatives and tags in it, quotes kept as read, and
every word table complete."""

from __future__ import annotations

import numpy as np
import pytest

from imagecaption.models.base import CaptionOptions, TextLine
from imagecaption.models.offline import OfflineCaptioner
from imagecaption.models.offline.compose.confidence import ranked_caption
from imagecaption.models.offline.compose.drafts import Draft
from imagecaption.models.offline.compose.languages import languages, realiser
from imagecaption.models.offline.compose.languages.contractions import CONTRACT
from imagecaption.models.offline.compose.languages.coverage import missing
from imagecaption.models.offline.compose.languages.german import German
from imagecaption.models.offline.compose.languages.words import load_words
from imagecaption.models.offline.compose.plans import Plan, Ref
from imagecaption.models.offline.compose.sentence import Findings, SentenceWriter
from imagecaption.models.offline.compose.things import find_things
from imagecaption.models.offline.compose.vocabulary import load_nouns
from imagecaption.models.offline.evidence import Colour, Place, Surroundings
from imagecaption.models.offline.faces import Face
from imagecaption.models.offline.labels import load_labels
from tests.models.test_sentence import PERSON, Box, probabilities, write
from tests.models.test_sentence_evidence import write as write_evidence

OTHERS = languages()[1:]

# Made-up detections (the inputs of test_sentence.py), the crops and scene the classifier saw.
BALL = [PERSON, Box("sports ball", 0.7, 0.55, 0.85, 0.62, 0.93)]
BICYCLE = [PERSON, Box("bicycle", 0.8, 0.3, 0.5, 0.7, 0.98)]
RACKET = [PERSON, Box("tennis racket", 0.7, 0.5, 0.3, 0.58, 0.45)]
KITE = [PERSON, Box("kite", 0.7, 0.7, 0.0, 0.8, 0.08)]
BENCH = [PERSON, Box("bench", 0.7, 0.2, 0.6, 0.8, 1.0)]
BUS = [PERSON, Box("bus", 0.8, 0.0, 0.0, 1.0, 0.9)]
COUCH = [
    Box("dog", 0.8, 0.1, 0.3, 0.45, 0.7),
    Box("cat", 0.7, 0.5, 0.35, 0.8, 0.7),
    Box("couch", 0.7, 0.0, 0.2, 1.0, 1.0),
]
TABLE = [
    Box("laptop", 0.8, 0.2, 0.2, 0.6, 0.6),
    Box("cup", 0.7, 0.65, 0.4, 0.75, 0.58),
    Box("dining table", 0.6, 0.0, 0.5, 1.0, 1.0),
]
KITCHEN = [Box("oven", 0.7, 0.1, 0.5, 0.4, 0.9), Box("refrigerator", 0.7, 0.6, 0.1, 0.9, 0.9)]
CARS = [Box("car", 0.7, x, 0.5, x + 0.2, 0.7) for x in (0.0, 0.3, 0.6)]
DOGS = [Box("dog", 0.8, 0.1 + 0.3 * i, 0.3, 0.35 + 0.3 * i, 0.7) for i in range(2)]
CROWD = [Box("person", 0.8, 0.1 * i, 0.2, 0.1 * i + 0.09, 0.8) for i in range(7)]
FLOCK = [Box("sheep", 0.8, 0.1 * i, 0.4, 0.1 * i + 0.09, 0.6) for i in range(8)]
CAT = [Box("cat", 0.8, 0.2, 0.2, 0.8, 0.9)]
CATS_AND_DOG = [
    Box("giraffe", 0.7, 0.2, 0.2, 0.5, 0.9),
    Box("cat", 0.8, 0.55, 0.2, 0.9, 0.9),
    Box("cat", 0.75, 0.6, 0.6, 0.9, 0.95),
]
TABBY = {"cat": probabilities(c281=0.5, c282=0.3)}
RETRIEVER = {"giraffe": probabilities(c207=0.9), "cat": probabilities(c281=0.6, c282=0.3)}
SUIT, VIOLIN = {"person": probabilities(c834=0.6)}, {"person": probabilities(c889=0.6)}
BEACH, LIBRARY = probabilities(c978=0.5), probabilities(c624=0.4)
NOTHING = probabilities()

CASES = {
    "ball": (BALL, None, None),
    "bicycle": (BICYCLE, None, None),
    "racket": (RACKET, None, None),
    "kite": (KITE, None, None),
    "bench": (BENCH, None, None),
    "bus": (BUS, None, None),
    "couch": (COUCH, None, None),
    "table": (TABLE, None, None),
    "kitchen": (KITCHEN, None, None),
    "cars": (CARS, None, None),
    "dogs": (DOGS, None, None),
    "crowd": (CROWD, None, None),
    "flock": (FLOCK, None, None),
    "tabby": (CAT, None, TABBY),
    "retriever": (CATS_AND_DOG, None, RETRIEVER),
    "beach": ([], probabilities(c207=0.6, c978=0.3), None),
    "maze": ([], probabilities(c646=0.3), None),
    "unclear": ([], NOTHING, None),
    "suit": ([PERSON], NOTHING, SUIT),
    "violin": ([PERSON], NOTHING, VIOLIN),
    "diver": ([PERSON], NOTHING, {"person": probabilities(c983=0.7)}),
    "suit in a library": ([PERSON], LIBRARY, {"person": probabilities(c834=0.5)}),
}
EXPECTED = {
    "de": {
        "ball": "Eine Person, die mit einem Ball spielt.",
        "bicycle": "Eine Person auf einem Fahrrad.",
        "racket": "Eine Person, die einen Tennisschläger hält.",
        "kite": "Eine Person, die einen Drachen steigen lässt.",
        "bench": "Eine Person, die auf einer Bank sitzt.",
        "bus": "Eine Person vor einem Bus.",
        "couch": "Ein Hund und eine Katze auf einem Sofa.",
        "table": "Ein Laptop und eine Tasse auf einem Tisch.",
        "kitchen": "Ein Kühlschrank und ein Backofen in einer Küche.",
        "cars": "Drei Autos auf einer Straße.",
        "dogs": "Zwei Hunde.",
        "crowd": "Eine Gruppe von Menschen.",
        "flock": "Mehrere Schafe.",
        "tabby": "Eine getigerte Katze.",
        "retriever": "Zwei Katzen neben einem Golden Retriever.",
        "beach": "Ein Golden Retriever an einem Strand.",
        "maze": "Ein Bild, das einen Heckenirrgarten zeigen könnte.",
        "unclear": "Ein Bild ohne klar erkennbares Motiv.",
        "suit": "Eine Person, die einen Anzug trägt.",
        "violin": "Eine Person, die eine Geige spielt.",
        "diver": "Ein Taucher.",
        "suit in a library": "Eine Person, die in einer Bibliothek einen Anzug trägt.",
    },
    "fr": {
        "ball": "Une personne jouant avec un ballon.",
        "bicycle": "Une personne sur un vélo.",
        "racket": "Une personne tenant une raquette de tennis.",
        "kite": "Une personne faisant voler un cerf-volant.",
        "bench": "Une personne assise sur un banc.",
        "bus": "Une personne devant un bus.",
        "couch": "Un chien et un chat sur un canapé.",
        "table": "Un ordinateur portable et une tasse sur une table.",
        "kitchen": "Un réfrigérateur et un four dans une cuisine.",
        "cars": "Trois voitures dans une rue.",
        "dogs": "Deux chiens.",
        "crowd": "Un groupe de personnes.",
        "flock": "Plusieurs moutons.",
        "tabby": "Un chat tigré.",
        "retriever": "Deux chats à côté d'un golden retriever.",
        "beach": "Un golden retriever sur une plage.",
        "maze": "Une image qui pourrait montrer un labyrinthe de haies.",
        "unclear": "Une image sans sujet clairement reconnaissable.",
        "suit": "Une personne portant un costume.",
        "violin": "Une personne jouant du violon.",
        "diver": "Un plongeur.",
        "suit in a library": "Une personne portant un costume dans une bibliothèque.",
    },
    "es": {
        "ball": "Una persona jugando con una pelota.",
        "bicycle": "Una persona montada en una bicicleta.",
        "racket": "Una persona con una raqueta de tenis en la mano.",
        "kite": "Una persona volando una cometa.",
        "bench": "Una persona sentada en un banco.",
        "bus": "Una persona delante de un autobús.",
        "couch": "Un perro y un gato sobre un sofá.",
        "table": "Un portátil y una taza sobre una mesa.",
        "kitchen": "Un frigorífico y un horno en una cocina.",
        "cars": "Tres coches en una calle.",
        "dogs": "Dos perros.",
        "crowd": "Un grupo de personas.",
        "flock": "Varias ovejas.",
        "tabby": "Un gato atigrado.",
        "retriever": "Dos gatos junto a un golden retriever.",
        "beach": "Un golden retriever en una playa.",
        "maze": "Una imagen que podría mostrar un laberinto de setos.",
        "unclear": "Una imagen sin un motivo claramente reconocible.",
        "suit": "Una persona con un traje.",
        "violin": "Una persona tocando el violín.",
        "diver": "Un submarinista.",
        "suit in a library": "Una persona con un traje en una biblioteca.",
    },
    "it": {
        "ball": "Una persona che gioca con una palla.",
        "bicycle": "Una persona in sella a una bicicletta.",
        "racket": "Una persona che tiene una racchetta da tennis.",
        "kite": "Una persona che fa volare un aquilone.",
        "bench": "Una persona seduta su una panchina.",
        "bus": "Una persona davanti a un autobus.",
        "couch": "Un cane e un gatto su un divano.",
        "table": "Un portatile e una tazza su un tavolo.",
        "kitchen": "Un frigorifero e un forno in una cucina.",
        "cars": "Tre auto in una strada.",
        "dogs": "Due cani.",
        "crowd": "Un gruppo di persone.",
        "flock": "Diverse pecore.",
        "tabby": "Un gatto tigrato.",
        "retriever": "Due gatti accanto a un golden retriever.",
        "beach": "Un golden retriever su una spiaggia.",
        "maze": "Un'immagine che potrebbe mostrare un labirinto di siepi.",
        "unclear": "Un'immagine senza un soggetto chiaramente riconoscibile.",
        "suit": "Una persona che indossa un completo.",
        "violin": "Una persona che suona un violino.",
        "diver": "Un sub.",
        "suit in a library": "Una persona che indossa un completo in una biblioteca.",
    },
    "pt": {
        "ball": "Uma pessoa brincando com uma bola.",
        "bicycle": "Uma pessoa andando de bicicleta.",
        "racket": "Uma pessoa segurando uma raquete de tênis.",
        "kite": "Uma pessoa empinando uma pipa.",
        "bench": "Uma pessoa sentada em um banco.",
        "bus": "Uma pessoa em frente a um ônibus.",
        "couch": "Um cachorro e um gato em um sofá.",
        "table": "Um notebook e uma xícara em uma mesa.",
        "kitchen": "Uma geladeira e um forno em uma cozinha.",
        "cars": "Três carros em uma rua.",
        "dogs": "Dois cachorros.",
        "crowd": "Um grupo de pessoas.",
        "flock": "Várias ovelhas.",
        "tabby": "Um gato malhado.",
        "retriever": "Dois gatos ao lado de um golden retriever.",
        "beach": "Um golden retriever em uma praia.",
        "maze": "Uma imagem que pode mostrar um labirinto de sebes.",
        "unclear": "Uma imagem sem um tema claramente reconhecível.",
        "suit": "Uma pessoa usando um terno.",
        "violin": "Uma pessoa tocando um violino.",
        "diver": "Um mergulhador.",
        "suit in a library": "Uma pessoa usando um terno em uma biblioteca.",
    },
}


@pytest.fixture(scope="module")
def writer() -> SentenceWriter:
    return SentenceWriter(load_labels(), load_nouns())


@pytest.mark.parametrize("lang", OTHERS)
def test_every_word_table_holds_every_key(lang: str) -> None:
    """Every ImageNet phrase and group, COCO noun (with its plural), place, relation, doing,
    colour, count, frame and tag the English rules can write."""
    assert missing(load_words(lang)) == []


def test_the_captioner_lists_its_languages() -> None:
    assert {"en", "de", "fr"} <= set(OfflineCaptioner().info.languages)
    assert set(EXPECTED) <= set(OTHERS)  # every shipped language has its sentence table


@pytest.mark.parametrize(
    ("lang", "case"), [(lang, case) for lang, table in EXPECTED.items() for case in table]
)
def test_each_language_composes_the_sentence(writer: SentenceWriter, lang: str, case: str) -> None:
    boxes, scene, crops = CASES[case]
    assert write(writer, boxes, scene, crops, lang=lang).text == EXPECTED[lang][case]


@pytest.mark.parametrize(
    ("lang", "plan", "expected"),
    [
        # German: case after prepositions, weak nouns, dative plurals, verb last, contractions
        ("de", Plan((Ref("a cow", 3),), doing="grazing", place="in a field"),
         "drei Kühe, die auf einem Feld grasen"),
        ("de", Plan((Ref("a person"),), relation="next to", other=Ref("an elephant"),
                    doing="walking", place="in the snow"),
         "eine Person, die im Schnee neben einem Elefanten geht"),
        ("de", Plan((Ref("a tabby cat"),), relation="sitting on", other=Ref("a chair", 2)),
         "eine getigerte Katze, die auf zwei Stühlen sitzt"),
        ("de", Plan((Ref("a dog", 4),), relation="with", other=Ref("a ball", 5)),
         "vier Hunde mit mehreren Bällen"),
        ("de", Plan((Ref("a bus", colour="red"),), place="on a street"),
         "ein roter Bus auf einer Straße"),
        ("de", Plan((Ref("a person"),), relation="in front of", other=Ref("a car", colour="red")),
         "eine Person vor einem roten Auto"),
        ("de", Plan((Ref("a person"),), frame="portrait", relation="wearing", other=Ref("a tie")),
         "ein Porträt von einer Person, die eine Krawatte trägt"),
        ("de", Plan((Ref("a dog"),), frame="black and white photo", relation="playing with",
                    other=Ref("a ball"), place="on the grass"),
         "ein Schwarzweißfoto von einem Hund, der auf dem Rasen mit einem Ball spielt"),
        ("de", Plan((Ref("a landscape"),), relation="with", other=Ref("a snowy mountain")),
         "eine Landschaft mit einem verschneiten Berg"),
        ("de", Plan((Ref("a flower"),), frame="possibly"), "möglicherweise eine Blume"),
        # French: elision, contractions, agreement of participles and colours
        ("fr", Plan((Ref("a person"),), doing="walking", relation="next to",
                    other=Ref("an elephant"), place="on the grass"),
         "une personne marchant à côté d'un éléphant sur l'herbe"),
        ("fr", Plan((Ref("a dog", 2),), relation="lying on", other=Ref("a couch")),
         "deux chiens allongés sur un canapé"),
        ("fr", Plan((Ref("a cow", 3),), relation="lying on", other=Ref("a bed")),
         "trois vaches allongées sur un lit"),
        ("fr", Plan((Ref("a car", colour="white"),)), "une voiture blanche"),
        ("fr", Plan((Ref("a person"),), relation="playing", other=Ref("an accordion")),
         "une personne jouant de l'accordéon"),
        ("fr", Plan((Ref("a person"),), relation="playing", other=Ref("a guitar")),
         "une personne jouant de la guitare"),
        ("fr", Plan((Ref("a person"),), frame="black and white portrait"),
         "un portrait en noir et blanc d'une personne"),
        ("fr", Plan((Ref("a person"),), relation="riding", other=Ref("a horse"),
                    place="in the mountains"),
         "une personne sur un cheval à la montagne"),
        ("fr", Plan((Ref("bread"),), frame="black and white photo"),
         "une photo en noir et blanc de pain"),
        # Italian: un, uno, una, un' by the next word; verbs agree in number; nel, sull'
        ("it", Plan((Ref("a backpack"),), place="in the snow"), "uno zaino nella neve"),
        ("it", Plan((Ref("an ant"),), place="on the grass"), "una formica sull'erba"),
        ("it", Plan((Ref("an iguana"),)), "un'iguana"),
        ("it", Plan((Ref("a dog", 2),), doing="running", place="in the water"),
         "due cani che corrono nell'acqua"),
        ("it", Plan((Ref("a cow", 3),), doing="lying"), "tre mucche sdraiate"),
        ("it", Plan((Ref("a car", colour="red"),)), "un'auto rossa"),
        # Portuguese: gendered numbers, na/à contractions, a bare noun after "andando de"
        ("pt", Plan((Ref("a cow", 2),), doing="lying", place="on the grass"),
         "duas vacas deitadas na grama"),
        ("pt", Plan((Ref("a person", 2),), relation="riding", other=Ref("a bicycle", 2),
                    place="by the water"),
         "duas pessoas andando de bicicleta à beira da água"),
        ("pt", Plan((Ref("a dog", 2),), relation="playing with", other=Ref("a frisbee")),
         "dois cachorros brincando com um frisbee"),
        # Spanish: "un" before a stressed a, "al" and "del"
        ("es", Plan((Ref("an airplane wing"),)), "un ala de avión"),
        ("es", Plan((Ref("a church"),), place="against the sky"),
         "una iglesia con el cielo de fondo"),
        ("es", Plan((Ref("a person"),), relation="playing tennis"), "una persona jugando al tenis"),
        # the broad word for animals neither model is sure of, counted
        ("de", Plan((Ref("an animal", 2),)), "zwei Tiere"),
        ("es", Plan((Ref("an animal", 2),)), "dos animales"),
        ("fr", Plan((Ref("an animal", 3),)), "trois animaux"),
        ("it", Plan((Ref("an animal", 2),)), "due animali"),
        ("pt", Plan((Ref("an animal", 2),)), "dois animais"),
    ],
)  # fmt: skip
def test_grammar_of_plans(lang: str, plan: Plan, expected: str) -> None:
    assert realiser(lang).sentence(plan) == expected


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("de", "in dem Schnee an dem Strand", "im Schnee am Strand"),
        ("fr", "à le bord de le eau", "au bord de l'eau"),
        ("fr", "sur le herbe près de le hamster", "sur l'herbe près du hamster"),
        ("es", "jugando a el fútbol de el barrio", "jugando al fútbol del barrio"),
        ("pt", "em a praia, de o lago, a a mesa", "na praia, do lago, à mesa"),
        ("it", "in il prato su la neve di lo zaino", "nel prato sulla neve dello zaino"),
        ("it", "in l'acqua di gli alberi", "nell'acqua degli alberi"),
    ],
)  # fmt: skip
def test_contractions(lang: str, text: str, expected: str) -> None:
    contract = German(load_words("de")).contract if lang == "de" else CONTRACT[lang]
    assert contract(text) == expected


@pytest.mark.parametrize(
    ("max_length", "expected"),
    [
        (None, "Eine Person, die an einem Strand einen Anzug trägt."),
        (6, "Eine Person, die einen Anzug trägt."),  # six German words, five English ones
        (5, "Eine Person."),
        (1, "Person."),
    ],
)
def test_max_length_counts_the_languages_words(
    writer: SentenceWriter, max_length: int | None, expected: str
) -> None:
    assert write(writer, [PERSON], BEACH, SUIT, lang="de", max_length=max_length).text == expected
    assert write(writer, [PERSON], BEACH, SUIT, max_length=5).text == "A person wearing a suit."


def test_a_word_limit_keeps_the_head_noun(writer: SentenceWriter) -> None:
    """German phrases end in their noun, French ones begin with it."""
    assert write(writer, CAT, None, TABBY, lang="de", max_length=1).text == "Katze."
    assert write(writer, CAT, None, TABBY, lang="fr", max_length=1).text == "Chat."


@pytest.mark.parametrize("lang", OTHERS)
def test_alternatives_come_in_the_language(writer: SentenceWriter, lang: str) -> None:
    english = write(writer, COUCH, num_captions=3)
    other = write(writer, COUCH, lang=lang, num_captions=3)
    assert len(other.candidates or ()) == len(english.candidates or ()) == 3
    assert [c.score for c in other.candidates or ()] == [c.score for c in english.candidates or ()]
    assert not {c.text for c in other.candidates or ()} & {c.text for c in english.candidates or ()}


def test_tags_come_in_the_language(writer: SentenceWriter) -> None:
    crops = {"cat": probabilities(c281=0.6, c282=0.3)}
    english = write(writer, CAT, BEACH, crops)
    german = write(writer, CAT, BEACH, crops, lang="de")
    french = write(writer, CAT, BEACH, crops, lang="fr")
    assert [t.name for t in english.tags or ()] == ["tabby cat", "cat", "beach"]
    assert [t.name for t in german.tags or ()] == ["getigerte Katze", "Katze", "Strand"]
    assert [t.name for t in french.tags or ()] == ["chat tigré", "chat", "plage"]
    assert [t.score for t in german.tags or ()] == [t.score for t in english.tags or ()]
    # the objects keep the detector's and classifier's English labels
    assert [o.label for o in german.objects or ()] == [o.label for o in english.objects or ()]


def test_the_portrait_frame(writer: SentenceWriter) -> None:
    face = Face(0.35, 0.2, 0.65, 0.6, score=0.9)
    assert write(writer, [PERSON], faces=[face], lang="de").text == "Ein Porträt von einer Person."
    assert write(writer, [PERSON], faces=[face], lang="fr").text == "Un portrait d'une personne."


def _with_text(writer: SentenceWriter, scene: np.ndarray, lines: list[TextLine], lang: str) -> str:
    things, portrait = find_things([], [], load_nouns())
    findings = Findings(things, portrait, scene, text=tuple(lines))
    return writer.write(findings, CaptionOptions(lang=lang)).text


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", 'A street sign that reads "Main St. 5 ÄÖ".'),
        ("de", "Ein Straßenschild mit der Aufschrift „Main St. 5 ÄÖ“."),
        ("fr", "Une plaque de rue où l'on lit « Main St. 5 ÄÖ »."),
    ],
)
def test_quotes_stay_as_read(writer: SentenceWriter, lang: str, expected: str) -> None:
    """The words read are quoted exactly, never translated nor contracted ("de le" stays)."""
    street_sign = probabilities(c919=0.9)
    lines = [TextLine("Main St. 5 ÄÖ", 0.99, (0.2, 0.4, 0.8, 0.5))]
    assert _with_text(writer, street_sign, lines, lang) == expected
    french = [TextLine("de le", 0.99, (0.2, 0.4, 0.8, 0.5))]
    assert "« de le »" in _with_text(writer, street_sign, french, "fr")


def test_every_draft_has_its_plans(writer: SentenceWriter) -> None:
    """A draft without plans could not be written in another language."""
    for boxes, scene, crops in CASES.values():
        things, portrait = find_things(boxes, [], load_nouns())
        findings = Findings(things, portrait, NOTHING if scene is None else scene, crops or {})
        for draft in writer.drafts(findings):
            assert draft.plans, draft.forms


def test_a_draft_the_words_cannot_write_is_left_out(writer: SentenceWriter) -> None:
    """A rule newer than a word table (a place it lacks) makes the caption say less in that
    language, never fail: the longest plan it can write is used, or the draft is left out."""
    german = realiser("de")
    unknown = Plan((Ref("a dog"),), place="on the moon")
    known = Plan((Ref("a dog"),))
    assert german.render(Draft(("a dog on the moon", "a dog"), 0.5, plans=(unknown, known)), None)
    assert german.render(Draft(("a dog on the moon",), 0.5, plans=(unknown,)), None) is None
    drafts = [
        Draft(("a dog on the moon",), 0.5, plans=(unknown,)),
        Draft(("a dog",), 0.4, plans=(known,)),
    ]
    assert ranked_caption(drafts, CaptionOptions(lang="de"), german.render).text == "Ein Hund."
    assert ranked_caption(drafts[:1], CaptionOptions(lang="de"), german.render).text == (
        "A dog on the moon."
    )


def test_night_and_backdrop_in_other_languages(writer: SentenceWriter) -> None:
    """Places the surroundings stage adds (at night, a plain backdrop) in each language."""
    car = Box("car", 0.8, 0.2, 0.4, 0.8, 0.9)
    road = Surroundings(indoors=0.05, ground=(Place("road", 0.9),), night=0.95)
    person = Box("person", 0.9, 0.3, 0.1, 0.7, 0.95)
    pink = Surroundings(backdrop=Colour("pink", 1.0))
    expected = {
        "de": (
            "Ein Auto auf einer Straße bei Nacht.",
            "Eine Person vor einem rosafarbenen Hintergrund.",
        ),
        "fr": ("Une voiture sur une route la nuit.", "Une personne sur un fond rose."),
        "it": ("Un'auto su una strada di notte.", "Una persona su uno sfondo rosa."),
        "pt": ("Um carro em uma estrada à noite.", "Uma pessoa contra um fundo rosa."),
    }
    for lang, (at_night, backdrop) in expected.items():
        assert write_evidence(writer, [car], surroundings=road, lang=lang).text == at_night
        assert write_evidence(writer, [person], surroundings=pink, lang=lang).text == backdrop


@pytest.mark.parametrize(
    ("lang", "at_night", "under_sky"),
    [
        (
            "de",
            "Ein Bild, das einen Heckenirrgarten bei Nacht zeigen könnte.",
            "Ein Bild, das einen Heckenirrgarten vor dem Himmel zeigen könnte.",
        ),
        (
            "fr",
            "Une image qui pourrait montrer un labyrinthe de haies la nuit.",
            "Une image qui pourrait montrer un labyrinthe de haies sur fond de ciel.",
        ),
        (
            "es",
            "Una imagen que podría mostrar un laberinto de setos de noche.",
            "Una imagen que podría mostrar un laberinto de setos con el cielo de fondo.",
        ),
        (
            "it",
            "Un'immagine che potrebbe mostrare un labirinto di siepi di notte.",
            "Un'immagine che potrebbe mostrare un labirinto di siepi contro il cielo.",
        ),
        (
            "pt",
            "Uma imagem que pode mostrar um labirinto de sebes à noite.",
            "Uma imagem que pode mostrar um labirinto de sebes contra o céu.",
        ),
    ],
)
def test_a_guess_under_its_sky_in_other_languages(
    writer: SentenceWriter, lang: str, at_night: str, under_sky: str
) -> None:
    """The time or the sky goes with the guessed thing, inside the frame: a German relative
    clause ends in its verb."""
    maze = probabilities(c646=0.3)
    night = Surroundings(indoors=0.05, night=0.95)
    assert write_evidence(writer, scene=maze, surroundings=night, lang=lang).text == at_night
    sky = Surroundings(indoors=0.05, background=(Place("sky", 0.9),))
    assert write_evidence(writer, scene=maze, surroundings=sky, lang=lang).text == under_sky


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("de", "Eine Jurte mit einem Rasen."),
        ("fr", "Une yourte avec une pelouse."),
        ("es", "Una yurta con césped."),
        ("it", "Una yurta con un prato."),
        ("pt", "Uma iurta com um gramado."),
    ],
)
def test_a_building_with_a_lawn_in_other_languages(
    writer: SentenceWriter, lang: str, expected: str
) -> None:
    yurt = probabilities(c915=0.8)
    lawn = Surroundings(indoors=0.05, ground=(Place("grass", 0.9),))
    assert write_evidence(writer, scene=yurt, surroundings=lawn).text == "A yurt with a lawn."
    assert write_evidence(writer, scene=yurt, surroundings=lawn, lang=lang).text == expected


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("de", "Ein Hund auf dem Rasen bei Sonnenuntergang."),
        ("fr", "Un chien sur l'herbe au coucher du soleil."),
        ("es", "Un perro en la hierba al atardecer."),
        ("it", "Un cane sull'erba al tramonto."),
        ("pt", "Um cachorro na grama ao pôr do sol."),
    ],
)
def test_sunset_in_other_languages(writer: SentenceWriter, lang: str, expected: str) -> None:
    """A place said at sunset, as at night: the place's words, then the time's."""
    dog = Box("dog", 0.9, 0.3, 0.4, 0.7, 0.9)
    grass = Surroundings(indoors=0.05, ground=(Place("grass", 0.9),), sunset=0.9)
    assert write_evidence(writer, [dog], surroundings=grass).text == (
        "A dog on the grass at sunset."
    )
    found = write_evidence(writer, [dog], surroundings=grass, lang=lang)
    assert found.text == expected
    assert load_words(lang).texts()["tag"]["sunset"] in {tag.name for tag in found.tags}


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("de", "Eine Person, die einen Pullover und eine Sonnenbrille trägt."),
        ("fr", "Une personne portant un pull et une paire de lunettes de soleil."),
        ("it", "Una persona che indossa un maglione e un paio di occhiali da sole."),
        ("pt", "Uma pessoa usando um suéter e um óculos de sol."),
    ],
)
def test_two_garments_in_other_languages(writer: SentenceWriter, lang: str, expected: str) -> None:
    view = {"person": probabilities(c474=0.4, c836=0.3)}  # a cardigan, a pair of sunglasses
    assert write(writer, [PERSON], NOTHING, view).text == (
        "A person wearing a sweater and a pair of sunglasses."
    )
    assert write(writer, [PERSON], NOTHING, view, lang=lang).text == expected
