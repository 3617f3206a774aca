"""The reference checklist: the seed's facts cited to the seed, caveats beside them, a source on
every item, and idempotent loading."""

import re
from decimal import Decimal

import pytest
from django.core.management import call_command

from checklists.models import (
    ChecklistVersion,
    Contraindication,
    NeedleSize,
    Site,
    Source,
    Step,
    TroubleshootingItem,
)
from tests.factories import ContentEditorFactory

ITEM_MODELS = (Step, Site, Contraindication, NeedleSize, TroubleshootingItem)
SITE_SLUGS = {
    "proximal-humerus-adult",
    "proximal-tibia-adult",
    "distal-tibia-adult",
    "proximal-humerus-child",
    "proximal-tibia-child",
    "distal-tibia-child",
    "distal-femur-child",
}
CONFIRMATION_SIGNS = (
    "conf-aspirates",
    "conf-flush-easy",
    "conf-stable",
    "conf-no-extravasation",
)


@pytest.fixture
def loaded(db):
    call_command("load_io_checklist")
    return ChecklistVersion.objects.published().get()


def keys(item):
    return {source.key for source in item.sources.all()}


def test_needle_table_equals_the_seeds(loaded):
    needles = {
        (n.length_mm, n.hub_colour, n.min_weight_kg, n.max_weight_kg, n.for_deep_tissue)
        for n in loaded.needle_sizes.all()
    }
    assert needles == {
        (15, "pink", Decimal(3), Decimal(39), False),
        (25, "blue", Decimal(40), None, False),
        (45, "yellow", None, None, True),
    }
    for needle in loaded.needle_sizes.all():
        assert "seed" in keys(needle), needle.slug
        # The 5 mm mark rule is cited to S5, S6 and S7, not the seed: it is a step, not part of the table.
        assert "5 mm" not in needle.tissue_note, needle.slug


def test_removal_within_24_hours_and_the_iv_rule_are_the_seeds(loaded):
    texts = list(loaded.steps.values_list("text", flat=True))
    assert any("within 24 hours" in text for text in texts)
    iv_rule = loaded.steps.get(slug="indication-arrest-iv-failed")
    assert "2–3 failed IV attempts" in iv_rule.text  # noqa: RUF001
    assert "> 90 s" in iv_rule.text
    assert "seed" in keys(iv_rule)
    assert "per local protocol" in iv_rule.caveat
    flushes = " ".join(texts)
    assert "5–10 mL" in flushes  # noqa: RUF001
    after_drugs = loaded.steps.get(slug="after-flush-drugs").text
    assert "3–5 mL" in after_drugs  # noqa: RUF001
    assert "after every drug" in after_drugs


def test_every_item_cites_a_source(loaded):
    for model in ITEM_MODELS:
        items = model.objects.filter(version=loaded)
        assert items.exists(), model
        assert not items.filter(sources__isnull=True).exists(), model


def test_a_source_named_in_a_caveat_is_cited_by_that_item(loaded):
    for model in ITEM_MODELS:
        for item in model.objects.filter(version=loaded).prefetch_related("sources"):
            named = set(re.findall(r"\[(seed|S\d+)\]", item.caveat))
            assert named <= keys(item), (model.__name__, item.slug, named - keys(item))


def test_caveats_are_not_hidden_in_the_explanations(loaded):
    caveat_words = re.compile(
        r"sources differ|not (read|reviewed)|device'?s? instructions", re.IGNORECASE
    )
    for step in loaded.steps.all():
        assert not caveat_words.search(step.detail), step.slug
    for site in loaded.sites.all():
        assert not caveat_words.search(site.notes), site.slug


# Safety flag 1: the seed says clockwise; the disagreeing source is a caveat.
def test_removal_turns_clockwise_as_the_seed_says_with_a_caveat(loaded):
    removal = loaded.steps.get(slug="rem-pull-turn")
    assert re.search(r"\bclockwise\b", removal.text)
    assert "anticlockwise" not in removal.text
    assert "seed" in keys(removal)
    assert "device's instructions" in removal.caveat
    assert "anticlockwise" in removal.caveat
    no_rock = loaded.steps.get(slug="rem-no-rock")
    assert no_rock.text == "Do not rock the needle"
    assert keys(no_rock) == {"seed"}


# Safety flag 7: the seed's sterile field and drape; no-touch technique is the caveat.
def test_preparation_is_sterile_with_a_drape_as_the_seed_says(loaded):
    (prep,) = [
        step
        for step in loaded.steps.filter(section__slug="preparation")
        if "sterile" in step.text and "drape" in step.text
    ]
    assert "seed" in keys(prep)
    assert prep.kind == Step.Kind.CHECK
    assert "no-touch" in prep.caveat
    assert "per local protocol" in prep.caveat
    assert {"S5", "S7", "S11"} <= keys(prep)


def test_the_seeds_missing_facts_are_shown_and_cited_to_the_seed(loaded):
    steps = loaded.steps.select_related("section").prefetch_related("sources")
    # IO is usually established in under a minute, faster than central or difficult IV access.
    (fast,) = [
        s
        for s in steps
        if s.section.slug == "indication" and "under a minute" in s.text
    ]
    assert fast.kind == Step.Kind.INFO
    assert "central" in fast.text
    assert "seed" in keys(fast)
    # Insertion devices are preferred over manual needles; the seed's device list.
    (devices,) = [s for s in steps if "insertion device" in s.text]
    assert devices.section.slug in ("preparation", "insertion")
    for name in ("EZ-IO", "Bone Injection Gun", "NIO", "Jamshidi", "Cook"):
        assert name in devices.text + devices.detail, name
    assert "seed" in keys(devices)
    # The extension set only if applicable.
    extension = loaded.steps.get(slug="ins-attach-extension")
    assert extension.text.startswith("If applicable, attach the primed extension set")
    assert "seed" in keys(extension)
    # The seed's limb-wide contraindication, and the bone's own: both at the seed's severity,
    # the sources that forbid a fractured bone outright a visible caveat, never a replacement.
    limb = loaded.contraindications.get(
        text="Fracture, infection, burn or chronic bone condition of this limb"
    )
    assert limb.severity == Contraindication.Severity.AVOID
    assert (limb.site, limb.region, limb.population) == (None, "any", "all")
    assert "seed" in keys(limb)
    bone = loaded.contraindications.get(slug="fracture")
    assert bone.text.startswith("Fracture of this bone")
    assert bone.severity == Contraindication.Severity.AVOID
    assert {"seed", "S2", "S9", "S10"} <= keys(bone)
    assert all(f"[{key}]" in bone.caveat for key in ("S2", "S9", "S10"))


def test_what_the_seed_states_keeps_a_disagreeing_sources_caveat(loaded):
    steps = loaded.steps.prefetch_related("sources")
    # Drugs IO: the seed's "as by IV", and the source that advises against marrow-suppressing ones.
    (drugs,) = [s for s in steps if s.slug == "indication-what-can-go-io"]
    assert "seed" in keys(drugs)
    assert "S18" in keys(drugs)
    assert "[S18]" in drugs.caveat
    assert "marrow" in drugs.caveat
    # A step for one site is guidance, not a check every other site records as not confirmed.
    (humerus,) = [s for s in steps if s.text.startswith("Adult humerus:")]
    assert humerus.kind == Step.Kind.INFO
    # The seed's 40 kg is the checklist's; the other limits are a caveat, not local protocol.
    blue = loaded.needle_sizes.get(hub_colour="blue")
    assert blue.min_weight_kg == 40
    assert "per local protocol" not in blue.caveat
    assert "[S9]" in blue.caveat


def test_contraindications_have_their_population_and_region(loaded):
    items = loaded.contraindications.all()
    assert {item.population for item in items} <= {"all", "adult", "child"}
    assert {item.region for item in items} <= {"any", "lower_limb", "upper_limb"}
    for item in items:
        assert item.site is None or item.region == "any", item.slug
    # Children: not below a fracture or an open wound on the same limb; "never" is one
    # source's [S12], the seed's "avoid unless no alternative" is what the screen applies.
    (below,) = [item for item in items if "S12" in keys(item)]
    assert below.population == "child"
    assert "wound" in below.text
    assert "fracture" in below.text
    assert below.severity == Contraindication.Severity.AVOID
    assert "seed" in keys(below)
    assert "never" in below.caveat
    assert "[S12]" in below.caveat
    # One abdominal / IVC item for every leg site, not a copy per site.
    (abdominal,) = [item for item in items if "abdominal" in item.text]
    assert (abdominal.region, abdominal.site) == ("lower_limb", None)
    assert abdominal.severity == Contraindication.Severity.DO_NOT_USE
    assert keys(abdominal) == {"S9", "S11"}
    # Proximal vascular injury; how absolute it is is left to local protocol.
    (vascular,) = [item for item in items if "ascular injury" in item.text]
    assert "S11" in keys(vascular)
    assert vascular.severity == Contraindication.Severity.AVOID
    assert "per local protocol" in vascular.caveat
    # The bay pre-ticks this one from earlier attempts: it applies to any site.
    earlier = loaded.contraindications.get(slug="earlier-io-same-bone")
    assert (earlier.site, earlier.region, earlier.population) == (None, "any", "all")
    chronic = loaded.contraindications.get(slug="chronic-bone-disease")
    assert "absolute" in chronic.caveat
    assert "per local protocol" in chronic.caveat


def test_complications_are_tick_boxes_after_one_overview(loaded):
    steps = list(loaded.steps.filter(section__slug="complications"))
    overview, *complications = steps
    assert overview.slug == "comp-overview"
    assert overview.kind == Step.Kind.INFO
    assert complications
    assert all(step.kind == Step.Kind.CHECK for step in complications)
    growth_plate = loaded.steps.get(slug="comp-growth-plate")
    assert growth_plate.population == "child"
    assert [s for s in steps if s.population == "child"] == [growth_plate]


def test_confirmation_signs_are_the_seeds_and_none_is_critical(loaded):
    card = loaded.steps.filter(section__slug="confirmation").prefetch_related("sources")
    (together,) = [s for s in card if s.text.startswith("Together")]
    assert together.kind == Step.Kind.INFO
    assert "seed" in keys(together)
    for slug in CONFIRMATION_SIGNS:
        sign = card.get(slug=slug)
        assert sign.kind == Step.Kind.CHECK, slug
        assert not sign.is_critical, slug
        assert "seed" in keys(sign), slug
    aspiration_checks = [
        s for s in card if s.kind == Step.Kind.CHECK and "spirat" in s.text.lower()
    ]
    assert [s.slug for s in aspiration_checks] == ["conf-aspirates"]
    no_aspirate = card.get(slug="conf-no-aspirate-not-failure")
    assert no_aspirate.kind == Step.Kind.INFO
    assert keys(no_aspirate) == {"S6"}


def test_sites_fit_the_bay_and_keep_their_drawings(loaded):
    sites = loaded.sites.all()
    assert {site.slug for site in sites} == SITE_SLUGS
    for site in sites:
        assert site.landmarks, site.slug
        assert len(site.landmarks) <= 200, site.slug
        assert len(site.positioning) <= 200, site.slug
        assert site.drawing == site.slug
    # The adult humerus landmarks were too long for the card: the rest is in the notes.
    humerus = loaded.sites.get(slug="proximal-humerus-adult")
    assert "ulnar edge" in humerus.notes
    assert "per local protocol" in humerus.caveat


def test_needle_choice_is_the_seeds_table_with_the_disagreements_as_a_caveat(loaded):
    mark = loaded.steps.get(slug="needle-5mm-mark")
    assert keys(mark) == {"S5", "S6", "S7"}
    choose = loaded.steps.get(slug="needle-choose")
    assert "seed" in keys(choose)
    assert "3–39 kg" in choose.detail  # noqa: RUF001
    assert "40 kg or more" in choose.detail
    assert "significant overlying tissue" in choose.detail
    assert "Sources differ" in choose.caveat
    assert "per local protocol" in choose.caveat
    assert "Under 3 kg" in choose.caveat


def test_contested_facts_read_per_local_protocol(loaded):
    # Safety flag 3: distal femur landmark in children.
    femur = loaded.sites.get(slug="distal-femur-child")
    assert "per local protocol" in femur.landmarks
    assert "per local protocol" in femur.caveat
    assert "medial" in femur.caveat
    assert "anterolateral" in femur.caveat
    assert (femur.for_adults, femur.for_children) == (False, True)
    # Safety flag 5: adult tibial landmarks.
    for slug in ("proximal-tibia-adult", "distal-tibia-adult"):
        tibia = loaded.sites.get(slug=slug)
        assert "per local protocol" in tibia.caveat, slug
        assert "device's instructions" in tibia.caveat, slug
        assert not re.search(r"\d", tibia.landmarks), slug
    # Safety flag 6: humeral insertion angle.
    push = loaded.steps.get(slug="ins-push-to-bone")
    assert "per local protocol" in push.caveat
    assert not re.search(r"\d+\s*°", push.caveat)


def test_no_lidocaine_dose_by_default(loaded):
    for step in loaded.steps.filter(text__icontains="lidocaine"):
        assert "per local protocol" in step.text
        assert not re.search(r"\d+\s*mg", step.text + step.detail + step.caveat)


def test_every_step_reads_at_arms_length(loaded):
    assert max(len(text) for text in loaded.steps.values_list("text", flat=True)) <= 140


def content_rows():
    return {
        model: list(model.objects.order_by("pk").values())
        for model in (ChecklistVersion, Source, *ITEM_MODELS)
    }


def test_a_second_run_changes_nothing(loaded):
    before = content_rows()
    call_command("load_io_checklist")
    assert content_rows() == before


def test_a_version_published_by_editors_is_never_overwritten(loaded):
    draft = loaded.new_draft(author=ContentEditorFactory())
    step = draft.steps.get(slug="rem-no-rock")
    step.text = "Hospital wording: do not rock the needle"
    step.save()
    draft.submit_for_review(by=draft.author)
    draft.publish(by=ContentEditorFactory())

    call_command("load_io_checklist")

    published = ChecklistVersion.objects.published().get()
    assert published == draft
    assert not published.is_reference_content
    assert published.steps.get(slug="rem-no-rock").text.startswith("Hospital wording")
