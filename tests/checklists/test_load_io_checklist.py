"""The reference checklist: the seed's numbers, a source on every item, and idempotent loading."""

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


@pytest.fixture
def loaded(db):
    call_command("load_io_checklist")
    return ChecklistVersion.objects.published().get()


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


def test_removal_within_24_hours_and_the_iv_rule_are_the_seeds(loaded):
    texts = list(loaded.steps.values_list("text", flat=True))
    assert any("within 24 hours" in text for text in texts)
    iv_rule = loaded.steps.get(slug="indication-arrest-iv-failed")
    assert "2–3 failed IV attempts" in iv_rule.text  # noqa: RUF001
    assert "> 90 s" in iv_rule.text
    assert "seed" in {s.key for s in iv_rule.sources.all()}
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


def test_contested_facts_read_per_local_protocol(loaded):
    # Safety flag 1: direction of rotation on removal.
    removal = loaded.steps.get(slug="rem-pull-turn")
    assert "per local protocol" in removal.text
    assert not re.search(r"\b(anti)?clockwise\b", removal.text)
    # Safety flag 3: distal femur landmark in children.
    femur = loaded.sites.get(slug="distal-femur-child")
    assert "per local protocol" in femur.landmarks
    assert (femur.for_adults, femur.for_children) == (False, True)


def test_no_lidocaine_dose_by_default(loaded):
    for step in loaded.steps.filter(text__icontains="lidocaine"):
        assert "per local protocol" in step.text
        assert not re.search(r"\d+\s*mg", step.text + step.detail)


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
