"""Sentence rules that keep a plainly wrong word out of the caption, on made-up findings: a broad
true word beats a specific false one, and a thing neither model is sure of is left out."""

from __future__ import annotations

from imagecaption.models.offline.compose.sentence import SentenceWriter
from tests.models.test_sentence import probabilities
from tests.models.test_sentence_evidence import Box, caption, write, writer

__all__ = ["writer"]  # the fixture, shared

TENCH = 0
GREAT_WHITE_SHARK = 2
GOLDEN = 207
COFFEE_MUG = 504
PARACHUTE = 701
UMBRELLA = 879
CUP = 968
GEYSER = 974
ROCKET = 657  # a missile, of the group "a rocket"
ROCKET_LAUNCH = 744


def test_a_sure_person_is_never_called_an_animal(writer: SentenceWriter) -> None:
    """ImageNet's fish are mostly anglers holding them: a man outdoors reads as fish, a surfer
    in a wave as a shark. The detector's sure person stays a person; an unsure one gives way."""
    hiker = Box("person", 0.89, 0.05, 0.05, 0.95, 0.95)
    fish = probabilities(**{f"c{TENCH}": 0.5, "c389": 0.25})
    assert caption(writer, [hiker], scene=fish) == "A person."
    surfer = Box("person", 0.78, 0.4, 0.4, 0.7, 0.76)
    shark = probabilities(**{f"c{GREAT_WHITE_SHARK}": 0.75})
    assert caption(writer, [surfer], scene=shark) == "A person."
    unsure = Box("person", 0.4, 0.4, 0.4, 0.7, 0.76)
    golden = probabilities(**{f"c{GOLDEN}": 0.9})
    assert caption(writer, [unsure], scene=golden) == "A golden retriever."


def test_a_small_sure_thing_keeps_its_word_when_its_crop_shows_the_classifier_s(
    writer: SentenceWriter,
) -> None:
    """A kite small in the sky, which the classifier calls a parachute both in the whole
    picture and in the kite's crop: one thing, and the detector's sure word stands. A thing
    the crop does not show (a rocket, the detector's person far below) still leads."""
    kite = Box("kite", 0.71, 0.45, 0.45, 0.54, 0.54)
    parachute = probabilities(**{f"c{PARACHUTE}": 0.6})
    crop = {"kite": probabilities(**{f"c{PARACHUTE}": 0.14, "c723": 0.17})}
    assert caption(writer, [kite], scene=parachute, crops=crop) == "A kite."
    elsewhere = {"kite": probabilities(c723=0.4)}  # a pinwheel, no parachute
    assert caption(writer, [kite], scene=parachute, crops=elsewhere) == "A parachute."
    person = Box("person", 0.8, 0.5, 0.85, 0.52, 0.95)
    rocket = probabilities(**{f"c{ROCKET}": 0.4, f"c{ROCKET_LAUNCH}": 0.4})
    crowd = {"person": probabilities(c834=0.3)}  # a suit
    assert caption(writer, [person], scene=rocket, crops=crowd).startswith("A rocket")


def test_an_unsure_box_nothing_confirms_is_left_out(writer: SentenceWriter) -> None:
    """A beach umbrella seen from above was "a stop sign": the detector unsure, the box small,
    and the classifier either without a class for the kind or seeing nothing of it. A sure
    box stays."""
    sign = Box("stop sign", 0.56, 0.4, 0.4, 0.5, 0.5)
    umbrella = {"stop sign": probabilities(**{f"c{UMBRELLA}": 0.23})}
    result = write(writer, [sign], crops=umbrella)
    assert "stop sign" not in result.text.lower()
    assert result.objects == ()
    sure = Box("stop sign", 0.8, 0.4, 0.4, 0.5, 0.5)
    assert caption(writer, [sure], crops=umbrella) == "A stop sign."
    small_cup = Box("cup", 0.56, 0.4, 0.4, 0.5, 0.5)
    nothing = {"cup": probabilities(c427=0.3)}  # a barrel
    assert caption(writer, [sure, small_cup], crops=nothing | umbrella) == "A stop sign."


def test_bowls_the_crop_shows_as_cups_are_cups(writer: SentenceWriter) -> None:
    """Paper cups seen from above that the detector calls bowls: the crop is sure of cups and
    mugs, kinds the detector confuses with bowls, so they are cups, counted as it counted."""
    bowls = [Box("bowl", 0.61, x, 0.3, x + 0.2, 0.6) for x in (0.0, 0.25, 0.5, 0.75)]
    cups = {"bowl": probabilities(**{f"c{CUP}": 0.39, f"c{COFFEE_MUG}": 0.42})}
    assert caption(writer, bowls, crops=cups) == "Four cups."
    mixing = {"bowl": probabilities(c659=0.3, **{f"c{CUP}": 0.2})}  # a mixing bowl, or cups
    assert caption(writer, bowls, crops=mixing) == "Four bowls."


def test_mist_is_not_a_geyser_unless_the_classifier_is_sure(writer: SentenceWriter) -> None:
    """Fog over a lake or a forest reads as "a geyser" at 0.3: left out of the landscape, the
    hedge and the guesses; a geyser the classifier is sure of is named."""
    misty = probabilities(**{f"c{GEYSER}": 0.3, "c970": 0.13, "c975": 0.2})
    result = write(writer, scene=misty, num_captions=5)
    assert all("geyser" not in candidate.text for candidate in result.candidates)
    assert "geyser" not in result.text
    sure = probabilities(**{f"c{GEYSER}": 0.8})
    assert "geyser" in caption(writer, scene=sure)


def test_an_unsure_box_beside_other_things_is_kept(writer: SentenceWriter) -> None:
    """A small skateboard the classifier has no class for stays under the person riding it:
    the person confirms it, where nothing confirms a lone stop sign."""
    person = Box("person", 0.9, 0.4, 0.1, 0.6, 0.85)
    board = Box("skateboard", 0.5, 0.45, 0.85, 0.55, 0.92)
    assert "skateboard" in caption(writer, [person, board])
