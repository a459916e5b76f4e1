"""The sentence: the main subject, what goes with it, how they relate, and where.

Templates, not a language model: a 135M-parameter model tried earlier invented details and was a
hundred times slower. The subject and the other things come from the detector, their precise
names from the classifier where the two agree, their colour from the colour stage
(``colouring.py``), relations from the boxes (``relations.py``), what people and animals do from
the boxes and the pose stage (``activities.py``), the setting from the objects or the
classifier's scene classes, else from the surroundings stage (``places.py``). Every draft's raw
score is put on one scale (``confidence.py``), and everything found becomes a tag
(``tags.py``). What the detector does not know (a rocket, a cup of
espresso, a lighthouse) is left to the classifier, and pictures with no subject at all are
described by kind ("a landscape", "a page of text").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from imagecaption.models.base import (
    Caption,
    CaptionOptions,
    DetectedObject,
    Tag,
    TextLine,
)
from imagecaption.models.offline.compose.activities import (
    Doing,
    grazing,
    grazing_named,
    playing,
    posture,
    related_activity,
    with_posture,
)
from imagecaption.models.offline.compose.classified import PersonView, describe, person_view
from imagecaption.models.offline.compose.colouring import colour_of, coloured
from imagecaption.models.offline.compose.confidence import ranked_caption
from imagecaption.models.offline.compose.drafts import Draft, forms
from imagecaption.models.offline.compose.identify import CONFUSED_KINDS, BoxNamer
from imagecaption.models.offline.compose.kind import PictureStats, is_grey, picture_kind
from imagecaption.models.offline.compose.languages import languages
from imagecaption.models.offline.compose.languages import realiser as realiser_of
from imagecaption.models.offline.compose.naming import ANIMALS, SETTINGS, ClassNames, Named
from imagecaption.models.offline.compose.places import Bearer, place_of
from imagecaption.models.offline.compose.plans import Plan, Ref, plan_of
from imagecaption.models.offline.compose.relations import relate
from imagecaption.models.offline.compose.setting import setting_of
from imagecaption.models.offline.compose.tags import tags_in, tags_of
from imagecaption.models.offline.compose.text import with_text
from imagecaption.models.offline.compose.things import Thing
from imagecaption.models.offline.compose.vocabulary import Noun
from imagecaption.models.offline.evidence import Colour, Pose, Surroundings
from imagecaption.models.offline.labels import Label
from imagecaption.models.offline.regions import Box

# Other things are mentioned only when at least this salient next to the main subject.
MENTION = 0.06
# A second subject is named with the first ("a dog and a cat", "a laptop and a cup") when it
# is at least this salient next to it: people and animals are compared with their own kind.
COMPANION = {True: 0.3, False: 0.1}
# A thing beside a person or an animal is named with it when the detector is this sure of it and
# it is at least this salient next to the subject (a potted plant beside a man reading is a
# twentieth as salient as he is).
SURE_BESIDE = 0.6
BESIDE = 0.05
# Below this area, the detector's main subject is too small to lead when the classifier is sure
# of something else in the picture (a rocket on its launch pad, with a person far below).
SMALL_SUBJECT = 0.03
# Unless the small subject's own crop gives the classifier's thing this much probability: then
# the two models name one thing, and the detector's sure word stands.
SEEN_IN_CROP = 0.1
# Other things get a caption of their own among the alternatives, the most salient first.
ALTERNATIVE_SUBJECTS = 3
# How sure the classifier must be of the whole picture to lead instead of the detector, and
# under which score the detector's main subject gives way to it when the two disagree.
CLASSIFIER_LEADS = 0.5
UNSURE_DETECTION = 0.55
# A person or an animal the detector is this sure of is named even when small, with the
# classifier's landscape as the place: "a person in the mountains", not "a snowy mountain".
SURE_IN_LANDSCAPE = 0.6
# A lone person this small (a share of the picture) whom the detector is less sure of than this,
# and in whose box the pose model finds no body it can read, is left out: a groyne on a beach
# seen from above, not a person. People in a group, or whose posture is read, stay.
BODILESS_AREA = 0.05
BODILESS_SCORE = 0.65
# People the detector is this sure of are named beside the classifier's subject.
PEOPLE_BESIDE = 0.5
AN_IMAGE = "an image"  # how hedges and admissions of defeat begin
UNCLEAR = ("an image with no clearly recognizable subject", "an unclear image")
UNCLEAR_PLANS = tuple(plan_of(wording) for wording in UNCLEAR)
PORTRAIT = "a portrait of {}"
LANGUAGES = languages()


@dataclass(frozen=True)
class Findings:
    """What the detection and classification stages found in one picture.

    ``crops`` holds the classifier's probabilities for the largest box of some things, by COCO
    label ("person" for the main person's body); ``text`` the lines the read stage found;
    ``poses`` what the detected people do; ``surroundings`` where the picture was taken;
    ``colours`` the clear colour of the largest box of some things, by COCO label.
    """

    things: tuple[Thing, ...]
    portrait: bool
    scene: np.ndarray
    crops: Mapping[str, np.ndarray] = field(default_factory=dict)
    picture: PictureStats | None = None
    text: tuple[TextLine, ...] = ()
    poses: tuple[Pose, ...] = ()
    surroundings: Surroundings | None = None
    colours: Mapping[str, Colour] = field(default_factory=dict)


class SentenceWriter:
    """Writes the captions for one picture from its findings."""

    def __init__(self, labels: Sequence[Label], nouns: Mapping[str, Noun]) -> None:
        self.names = ClassNames(labels)
        self._namer = BoxNamer(self.names, nouns)
        self._table = nouns.get("dining table")

    def write(self, findings: Findings, options: CaptionOptions) -> Caption:
        """Caption one picture. ``max_length`` counts words, which is what a reader notices."""
        identified = self._identify(findings)
        drafts = self.drafts(findings, identified)
        realiser = realiser_of(options.lang) if options.lang in LANGUAGES[1:] else None
        caption = ranked_caption(drafts, options, realiser.render if realiser else Draft.render)
        activities = [tag for draft in drafts for tag in draft.activities]
        tags = tags_of(
            identified,
            self.names,
            findings.scene,
            findings.poses,
            findings.surroundings,
            activities,
        )
        if realiser is not None:
            tags = tags_in(tags, realiser.tag_name)
        return replace(caption, objects=detected_objects(identified), tags=tags)

    def drafts(
        self, findings: Findings, identified: tuple[Thing, ...] | None = None
    ) -> list[Draft]:
        """Every caption the rules can write for the picture, the main one first, with their
        raw scores (``confidence.py`` puts those on one scale)."""
        if identified is None:
            identified = self._identify(findings)
        things = _distinct(identified)
        setting = self.names.setting(findings.scene)
        kind = picture_kind(findings.picture, self.names, findings.scene)
        first, others = describe(self.names, findings.scene, setting)
        if things and not self._classifier_leads(things, findings.scene, first, findings.crops):
            drafts = self._scene(things, findings, setting, kind)
            drafts += [first] if first is not None else []
        else:
            lead = first or (
                _kind_placed(kind, findings.surroundings)
                if kind
                else Draft(UNCLEAR, 0.0, "unclear", plans=UNCLEAR_PLANS)
            )
            if first is not None:
                lead = self._with_furniture(lead, things, findings)
                lead = self._with_people(lead, things, findings.scene)
                lead = _guessed_under_sky(lead, findings.surroundings)
            drafts = [lead]
            drafts += self._scene(things, findings, setting, kind) if things else []
        drafts += others  # the classifier's other guesses: the likeliest make the cut
        wording = drafts[0].forms[0]
        if is_grey(findings.picture) and wording != kind and not wording.startswith(AN_IMAGE):
            drafts[0] = _in_black_and_white(drafts[0])
        return with_text(drafts, findings.text)

    def _identify(self, findings: Findings) -> tuple[Thing, ...]:
        """The detected things as the classifier's closer look names them, every one it does
        not rule out, so that ``details`` lists each box under the name the caption gives it.

        A correction into something another box already is ("a coffee mug" for the cat beside
        a mug) means the crop caught its neighbour, so the detector's word stays there.
        """
        alone = len(findings.things) == 1
        found = [
            thing
            for thing in findings.things
            if not self._namer.unseen(thing, findings.crops.get(thing.noun.label), alone)
            and not _bodiless(thing, findings.poses)
        ]
        seen = [
            self._namer.identify(thing, findings.crops.get(thing.noun.label)) for thing in found
        ]
        kept = []
        for original, thing in zip(found, seen, strict=True):
            others = {other.phrase() for other in seen if other is not thing}
            corrected = thing.noun is not original.noun
            # a truck that is a car beside a car is the detector's confusion, not a crop's
            labels = {thing.noun.label, original.noun.label}
            confused = any(labels <= kinds for kinds in CONFUSED_KINDS)
            kept.append(
                original if corrected and thing.phrase() in others and not confused else thing
            )
        return tuple(kept)

    def _classifier_leads(
        self,
        things: Sequence[Thing],
        scene: np.ndarray,
        first: Draft | None,
        crops: Mapping[str, np.ndarray],
    ) -> bool:
        """Whether the classifier's view of the whole picture should lead the caption.

        It does when it is sure of something the detector missed: an animal (which it knows
        far better), or a subject beside which the detector found only furniture or something
        small (a cup of espresso on a table, a rocket with people far below).
        """
        seen = self.names.subject(scene)
        if first is None or seen is None or first.score < CLASSIFIER_LEADS:
            return False
        subject = things[0]
        if seen.label.category in SETTINGS:
            # A place is where the detected things are, not a subject beside them: "a table in
            # a restaurant", "a person in the snowy mountains".
            context = subject.has("table") or subject.has("seat")
            if context or (subject.animate and subject.score >= SURE_IN_LANDSCAPE):
                return False
        if seen.label.category in ANIMALS and not any(thing.has("animal") for thing in things):
            # A person the detector is sure of is not displaced by an animal the classifier
            # names only broadly, or by any animal where the person is not small: ImageNet's
            # fish are mostly photos of the anglers holding them, so a man outdoors reads as
            # fish, "an animal", and a surfer in a wave as a shark.
            broad = self.names.subject(scene, levels=2) is None
            return not any(
                thing.has("person")
                and thing.score >= SURE_IN_LANDSCAPE
                and (broad or thing.main.area >= SMALL_SUBJECT)
                for thing in things
            )
        if subject.score < UNSURE_DETECTION and not subject.noun.agrees_with(seen.label):
            return True
        context = subject.has("table") or (subject.has("seat") and subject.count == 1)
        # Chairs the detector found around the table it missed are the table's: "a dining
        # table and two chairs", not "two chairs" beside the table the classifier is sure of.
        context = context or (subject.has("seat") and self._is_table(seen.label))
        small = subject.main.area < SMALL_SUBJECT and not self._seen_in(subject, seen, crops)
        return context or small

    def _seen_in(self, subject: Thing, seen: Named, crops: Mapping[str, np.ndarray]) -> bool:
        """Whether the classifier's thing for the whole picture is the detector's small, sure
        subject under another name: a kite in the sky whose own crop the classifier also
        calls a parachute. The detector's word stands; only a thing the crop does not show
        (a rocket, with people far below) leads instead."""
        crop = crops.get(subject.noun.label)
        if crop is None or subject.score < SURE_IN_LANDSCAPE:
            return False
        return self.names.likelihood(crop, seen) >= SEEN_IN_CROP

    def _is_table(self, label: Label) -> bool:
        return self._table is not None and self._table.agrees_with(label)

    def _scene(
        self, things: Sequence[Thing], findings: Findings, setting: Named | None, kind: str | None
    ) -> list[Draft]:
        """Captions led by the detected things: the main one first, then one per other thing."""
        subject = things[0]
        others = list(things[1:])
        people = (
            person_view(
                self.names,
                findings.crops.get("person"),
                subject.count,
                subject.main.area,
                findings.scene,
            )
            if subject.has("person")
            else PersonView(None, None)
        )
        drafts = [self._sentence(subject, others, findings, setting, people)]
        for other in others[:ALTERNATIVE_SUBJECTS]:
            rest = [t for t in things if t is not other]
            alternative = self._sentence(other, rest, findings, setting, PersonView(None, None))
            drafts.append(replace(alternative, source="subject"))
        if kind is not None and not subject.animate:
            drafts.append(Draft((kind,), 0.3, "kind", plans=(plan_of(kind),)))
        return drafts

    def _with_people(self, draft: Draft, things: Sequence[Thing], scene: np.ndarray) -> Draft:
        """The classifier's thing with the people the detector found, who are what a reader
        looks at first however small: "a building and four people", "a mountain bike and three
        people". Not beside the classifier's animals, whose people it would have to be sure
        of, its places, which are the people's setting, or its kinds of person."""
        seen = self.names.subject(scene)
        people = next((thing for thing in things if thing.has("person")), None)
        if draft.source != "classifier" or seen is None or people is None:
            return draft
        category = seen.label.category
        if people.score < PEOPLE_BESIDE or category in ANIMALS | SETTINGS | {"person"}:
            return draft
        wording = draft.forms[0]
        if not wording.startswith(seen.phrase):
            return draft
        named = f"{seen.phrase} and {people.phrase()}"
        plan = draft.plans[0].with_subject(people.ref())
        return replace(
            draft.reworded(wording.replace(seen.phrase, named, 1), plans=(plan,)),
            score=draft.score * people.score,
        )

    def _with_furniture(self, draft: Draft, things: Sequence[Thing], findings: Findings) -> Draft:
        """The classifier's subject on the table the detector found under it ("a cup of
        espresso on a table"), or, where the classifier's subject is that table itself, with
        the next thing the detector found beside it ("a dining table and a chair"); then the
        place, where the surroundings give one."""
        table = _table(things)
        seen = self.names.subject(findings.scene)
        if table is None and seen is not None and self._is_table(seen.label):
            seats = next((thing for thing in things if thing.has("seat")), None)
            return _with_other(draft, self._placed(draft, findings), seats)
        if table is None or seen is None or draft.source != "classifier":
            return self._placed(draft, findings) if table is None else _on_table(draft, things)
        if seen.label.category in SETTINGS:
            return _table_in_place(draft, table, seen)
        if not table.noun.agrees_with(seen.label):
            return _on_table(draft, things)
        other = next((thing for thing in things if thing is not table), None)
        placed = self._placed(draft, findings)
        if other is None or other.salience < MENTION * table.salience:
            return placed
        return _with_other(draft, placed, other)

    def _placed(self, draft: Draft, findings: Findings) -> Draft:
        """The classifier's subject with the place the surroundings give, where it has no
        setting yet: "a bullmastiff on the grass"."""
        seen = self.names.subject(findings.scene)
        if draft.source != "classifier" or seen is None or draft.forms[0] != seen.phrase:
            return draft
        placed = place_of(_bearer_of_category(seen.label.category), findings.surroundings)
        if placed is None:
            return draft
        doing = grazing_named(seen.phrase, placed.name)
        words = f"{doing.words} {placed.words}" if doing is not None else placed.words
        wording = f"{draft.forms[0]} {words}"
        plan = replace(draft.plans[0], doing=doing.words if doing else None, place=placed.words)
        activities = (Tag(doing.name, placed.score),) if doing is not None else ()
        return replace(
            draft.reworded(wording, plans=(plan,)),
            score=draft.score * placed.score,
            activities=draft.activities + activities,
        )

    def _sentence(
        self,
        subject: Thing,
        others: Sequence[Thing],
        findings: Findings,
        setting: Named | None,
        people: PersonView,
    ) -> Draft:
        """Subject, what it does or how it relates to another thing, and where: "a person
        walking on a road", "two dogs lying on a couch", "cows grazing in a field"."""
        head = subject.phrase()
        score = subject.score
        colour = colour_of(subject, findings.colours)
        plan = Plan((subject.ref(),))
        if people.kind is not None and subject.count == 1:
            head = people.kind.phrase  # "a scuba diver" says more than "a person"
            plan = plan_of(head)
        elif colour is not None:
            head = coloured(head, colour)
            plan = Plan((replace(subject.ref(), colour=colour.name),))
            score *= colour.score
        if findings.portrait and subject.has("person"):
            head = PORTRAIT.format(head)
            plan = replace(plan, frame="portrait")
        related = next(((t, v) for t in others if (v := relate(subject, t)) is not None), None)
        salient = [t for t in others if t.salience >= MENTION * subject.salience]
        companion = _companion(subject, salient, related)
        if companion is not None:
            head = f"{head} and {companion.phrase()}"
            plan = plan.with_subject(companion.ref())
            score *= companion.score
        relation, used, evidence, related_doing, linked = _relation(
            subject, others, related, findings
        )
        score *= evidence
        also = None
        attribute = not relation and people.relation is not None
        if attribute and people.relation is not None and people.attribute is not None:
            relation = people.relation
            linked, also = people.planned, people.planned_also
            score *= people.score
        where, ground, evidence = _where(subject, findings, setting, used)
        score *= evidence
        doing = grazing(subject, ground) if not relation else None
        if doing is not None:
            doing = replace(doing, score=evidence)  # grazing is as likely as the pasture
        elif not attribute:
            doing = with_posture(posture(subject, findings.poses), relation, bool(where))
            score *= doing.score if doing is not None else 1.0
        activities = tuple(
            Tag(done.name, done.score) for done in (related_doing, doing) if done is not None
        )
        activity_words = doing.words if doing is not None else ""
        clauses = [head, activity_words, relation, where]
        key, other = linked or (None, None)
        related_plan = replace(
            plan, doing=doing.words if doing else None, relation=key, other=other, also=also
        )
        return Draft(
            forms(
                _join(clauses),
                _join([head, activity_words, relation]),
                _join([subject.phrase(), relation]),
                subject.phrase(),
            ),
            score,
            activities=activities,
            plans=(
                replace(related_plan, place=where or None),
                related_plan,
                Plan((subject.ref(),), relation=key, other=other, also=also),
                Plan((subject.ref(),)),
            ),
        )


def _relation(
    subject: Thing,
    others: Sequence[Thing],
    related: tuple[Thing, str] | None,
    findings: Findings,
) -> tuple[str, set[str], float, Doing | None, tuple[str, Ref | None] | None]:
    """How the subject relates to another thing, in words ("playing with a ball", "riding a
    bicycle", "lying on a couch"), the COCO labels those words name, their evidence, the
    activity they say, if any, and the relation as a plan names it (its key and the thing)."""
    play = playing(subject, others)
    if play is not None:
        toy, doing = play
        linked = (doing.verb, toy.ref()) if doing.verb else (doing.words, None)
        return doing.words, {toy.noun.label}, doing.score, doing, linked
    if related is None:
        return "", set(), 1.0, None, None
    other, verb = related
    aspect = findings.picture.aspect if findings.picture else 1.0
    activity = related_activity(subject, other, verb, findings.things, aspect)
    if activity is None:
        return (
            f"{verb} {other.phrase()}",
            {other.noun.label},
            other.score,
            None,
            (verb, other.ref()),
        )
    evidence = other.score * activity.score
    linked = (activity.verb, other.ref())
    return activity.words, {other.noun.label}, evidence, replace(activity, score=evidence), linked


def _where(
    subject: Thing, findings: Findings, setting: Named | None, used: set[str]
) -> tuple[str, str | None, float]:
    """Where the picture was taken, in words: from the objects or the classifier's setting
    first, else from the surroundings; with the ground's name, if it came from there, and the
    evidence for it."""
    where = setting_of(findings.things, setting, used)
    if where:
        from_classifier = setting is not None and where == setting.label.context
        return where, None, setting.score if setting is not None and from_classifier else 1.0
    placed = place_of(_bearer(subject), findings.surroundings)
    if placed is None:
        return "", None, 1.0
    return placed.words, placed.name, placed.score


# Detected things that fly, and are in the sky where only sky lies around them: a kite is
# flown, as an airplane flies (a bird perches against the sky as often as it flies in it).
FLYING = frozenset({"airplane", "kite"})


def _bearer(thing: Thing) -> Bearer:
    """What kind of subject a place is said of, for the words that fit it."""
    if thing.has("person"):
        return "person"
    if thing.has("animal"):
        return "animal"
    if thing.noun.label == "boat":
        return "boat"
    if thing.noun.label in FLYING:
        return "aircraft"
    return "vehicle" if thing.has("vehicle") else "thing"


BEARER_OF_CATEGORY: dict[str, Bearer] = {
    "person": "person",
    "vehicle": "vehicle",
    "ride": "vehicle",
    "boat": "boat",
    "aircraft": "aircraft",
    "building": "building",
    "scene": "landscape",
    "place": "landscape",
}


def _bearer_of_category(category: str) -> Bearer:
    if category in ANIMALS:
        return "animal"
    return BEARER_OF_CATEGORY.get(category, "thing")


# Kinds of picture that stand somewhere, and what they are as the subject of a place.
PLACED_KINDS: dict[str, Bearer] = {"a landscape": "landscape", "a building": "building"}


def _kind_placed(kind: str, surroundings: Surroundings | None) -> Draft:
    """The kind of picture, with what lies behind it where that is likely: "a landscape
    against the sky", "a building in front of trees"."""
    draft = Draft((kind,), 0.5, "kind", plans=(plan_of(kind),))
    bearer = PLACED_KINDS.get(kind)
    placed = place_of(bearer, surroundings) if bearer is not None else None
    if placed is None:
        return draft
    # The score stays the kind rule's own, which its calibration was fitted on.
    plan = replace(plan_of(kind), place=placed.words)
    return draft.reworded(f"{kind} {placed.words}", plans=(plan,))


def _guessed_under_sky(draft: Draft, surroundings: Surroundings | None) -> Draft:
    """A hedged guess with what its sky shows, which holds whatever the picture shows: the
    time of day, and the sky itself where it is sure ("an image that may show a fountain at
    night", "... a ship against the sky"). No ground and no other background: where the
    subject is a guess, so is the ground that fits it. These are the places said of a
    landscape, which stands on no ground."""
    sky = place_of("landscape", surroundings)
    if draft.source != "hedge" or sky is None:
        return draft
    plans = tuple(replace(plan, place=sky.words) for plan in draft.plans[:2])
    wordings = [f"{wording} {sky.words}" for wording in draft.forms[:2]]
    return draft.reworded(*wordings, plans=plans)


def _table(things: Sequence[Thing]) -> Thing | None:
    return next((thing for thing in things if thing.has("table")), None)


def _with_other(draft: Draft, placed: Draft, other: Thing | None) -> Draft:
    """``placed`` (``draft`` with its place) with ``other`` named beside its subject: "a dining
    table and two chairs in a room"."""
    if other is None or draft.source != "classifier":
        return placed
    subject = draft.forms[0]
    wording = placed.forms[0].replace(subject, f"{subject} and {other.phrase()}", 1)
    plan = placed.plans[0].with_subject(other.ref())
    return replace(placed.reworded(wording, plans=(plan,)), score=placed.score * other.score)


def _table_in_place(draft: Draft, table: Thing, place: Named) -> Draft:
    """The table the detector found, in the place the classifier names: "a table in a
    restaurant", never the restaurant on the table."""
    context = place.label.context
    if not context:
        return draft
    plan = Plan((table.ref(),), place=context)
    reworded = draft.reworded(f"{table.phrase()} {context}", plans=(plan,))
    return replace(reworded, score=draft.score * table.score)


def _on_table(draft: Draft, things: Sequence[Thing]) -> Draft:
    """The classifier's subject placed on the table the detector found under it: "a cup of
    espresso on a table". Only for things that stand on tables, never for animals or scenes."""
    table = _table(things)
    if table is None or draft.forms[0].startswith(AN_IMAGE):
        return draft
    plan = replace(draft.plans[0], relation="on", other=table.ref())
    return draft.reworded(f"{draft.forms[0]} on {table.phrase()}", plans=(plan,))


def _in_black_and_white(draft: Draft) -> Draft:
    """Say that a photo is black and white, as people writing alt text do; a word limit drops
    it first."""
    first = draft.forms[0]
    plan = draft.plans[0]
    if first.startswith(PORTRAIT.format("")):
        wording = "a black and white " + first.removeprefix("a ")
        plan = replace(plan, frame="black and white portrait")
    else:
        wording = f"a black and white photo of {first}"
        plan = replace(plan, frame="black and white photo")
    return draft.reworded(wording, plans=(plan,))


def _bodiless(thing: Thing, poses: Sequence[Pose]) -> bool:
    """Whether ``thing`` is a lone, small, unsure person in whom the pose model saw no body."""
    if not thing.has("person") or thing.count != 1:
        return False
    if thing.main.area >= BODILESS_AREA or thing.score >= BODILESS_SCORE:
        return False
    box = thing.main
    read = [pose for pose in poses if _same_box(pose.box, box)]
    return bool(read) and all(pose.activity is None for pose in read)


def _same_box(first: Box, second: Box) -> bool:
    corners = zip(
        (first.left, first.top, first.right, first.bottom),
        (second.left, second.top, second.right, second.bottom),
        strict=True,
    )
    return all(abs(a - b) < 1e-3 for a, b in corners)


def _distinct(things: Iterable[Thing]) -> tuple[Thing, ...]:
    """Drop a thing that reads the same as a more salient one: a box the classifier renamed
    into what another box already is ("a coffee mug and a coffee mug")."""
    kept: dict[str, Thing] = {}
    for thing in things:
        kept.setdefault(thing.phrase(), thing)
    return tuple(kept.values())


def _companion(
    subject: Thing, salient: Sequence[Thing], related: tuple[Thing, str] | None
) -> Thing | None:
    """The thing named together with the subject, which must share its relation, if any:
    "a dog and a cat on a couch" needs both on it."""
    for other in salient:
        if not _companions(subject, other):
            continue
        if related is None or (other is not related[0] and relate(other, related[0]) == related[1]):
            return other
    return None


def _companions(subject: Thing, other: Thing) -> bool:
    """Two kinds of thing of equal standing, named together: "a dog and a cat"."""
    if subject.animate and not other.animate:
        # Something beside a person or an animal is named when sure and salient next to it:
        # "a cat and a cup", never a guess beside the subject.
        # Tables and seats are where the subject is, said by a relation or not at all.
        furniture = other.has("table") or other.has("seat")
        sure = other.score >= SURE_BESIDE and other.salience >= BESIDE * subject.salience
        return sure and not furniture
    if other.salience < COMPANION[subject.animate] * subject.salience:
        return False
    if subject.animate or other.animate:
        return subject.animate and other.animate
    return not other.has("table") and not other.has("seat")


def _join(clauses: Sequence[str]) -> str:
    return " ".join(clause for clause in clauses if clause)


def detected_objects(things: Sequence[Thing]) -> tuple[DetectedObject, ...]:
    """Every counted box, for ``details=true``: the words the caption used, with the boxes."""
    return tuple(
        DetectedObject(
            label=thing.label,
            score=box.score,
            box=(box.left, box.top, box.right, box.bottom),
        )
        for thing in things
        for box in thing.boxes
    )
