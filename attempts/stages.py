"""The checklist content each card of an attempt shows (the flow's rules live in `flow`).

Content comes from the version the attempt started with, filtered to the patient's population.
"""

import time
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

from django.conf import settings

from attempts import flow
from attempts.flow import Stage
from attempts.models import Attempt
from checklists.models import (
    Contraindication,
    NeedleSize,
    Population,
    Site,
    Step,
    TroubleshootingItem,
)

# The checklist section each card shows.
SECTION_OF = {
    Stage.INDICATION: "indication",
    Stage.SITE: "site",
    Stage.SCREEN: "contraindications",
    Stage.NEEDLE: "needle",
    Stage.PREPARATION: "preparation",
    Stage.INSERTION: "insertion",
    Stage.CONFIRMATION: "confirmation",
    Stage.AFTERCARE: "aftercare",
}
# Contraindication the screen pre-ticks from this episode's earlier attempts [S2][S10].
EARLIER_IO_SLUG = "earlier-io-same-bone"
EARLIER_IO_WINDOW = timedelta(hours=48)


@dataclass
class StageContent:
    """Everything the attempt page shows, loaded in a fixed number of queries."""

    attempt: Attempt
    steps: dict = field(default_factory=dict)  # section slug → [Step]
    sites: list = field(default_factory=list)
    contraindications: list = field(default_factory=list)
    needles: list = field(default_factory=list)
    blocks: dict = field(default_factory=dict)  # the version's drawn blocks (bay.why)
    now: object = None

    @classmethod
    def load(cls, attempt, *, now):
        population = attempt.population
        frozen = attempt_content(attempt)
        content = cls(attempt=attempt, now=now)
        for step in frozen.steps:
            if step.population in (Population.ALL, population):
                content.steps.setdefault(step.section.slug, []).append(step)
        content.sites = [site for site in frozen.sites if site.serves(population)]
        content.contraindications = frozen.contraindications
        content.needles = frozen.needles
        content.blocks = frozen.blocks
        # The attempt's site and needle are the version's own: no query for them.
        for name, items in (("site", frozen.sites), ("needle", frozen.needles)):
            chosen = getattr(attempt, f"{name}_id")
            if chosen is not None and not Attempt._meta.get_field(name).is_cached(
                attempt
            ):
                found = next((item for item in items if item.pk == chosen), None)
                if found is not None:
                    setattr(attempt, name, found)
        return content

    def forget_reads(self):
        """Drop what was worked out from the attempt's row, after a tap has changed it."""
        self.__dict__.pop("needle_advice", None)  # a weight correction changes it

    @property
    def ticked(self):
        """Steps ticked so far, as the attempt's row projects them (no query)."""
        return set(self.attempt.ticked_step_ids)

    @cached_property
    def tried(self):
        """Earlier attempts of the episode at a site within 48 h (site and screen cards): one
        query, none for an episode's first attempt, which has no earlier one."""
        if self.attempt.number <= 1:
            return []
        return list(
            self.attempt.episode.attempts.filter(
                number__lt=self.attempt.number,
                site__isnull=False,
                started_at__gte=self.now - EARLIER_IO_WINDOW,
            ).select_related("site")
        )

    def steps_for(self, stage):
        return self.steps.get(SECTION_OF.get(stage), [])

    def check_steps_for(self, stage):
        return [step for step in self.steps_for(stage) if step.kind == Step.Kind.CHECK]

    def screen_for(self, site, side):
        """The contraindications that apply to `site` in this patient, and the ones to pre-tick
        (an earlier IO in the same bone on the same `side`)."""
        population = self.attempt.population
        items = [c for c in self.contraindications if c.applies_to(site, population)]
        same_bone = [
            earlier
            for earlier in self.tried
            if earlier.site.bone == site.bone and earlier.side == side
        ]
        pre_ticked = {c.pk for c in items if c.slug == EARLIER_IO_SLUG and same_bone}
        return items, pre_ticked, same_bone

    @cached_property
    def needle_advice(self):
        return NeedleAdvice.for_weight(self.attempt.episode.weight_kg, self.needles)

    def complications(self):
        """What the removal form offers to tick: the complications, not the section's notes."""
        return [
            step
            for step in self.steps.get("complications", [])
            if step.kind == Step.Kind.CHECK
        ]

    def troubleshooting_items(self):
        version_id = self.attempt.checklist_version_id
        if version_id in _frozen_version_ids:
            return list(_frozen_troubleshooting(version_id))
        return list(troubleshooting_content(self.attempt.checklist_version))


@dataclass(frozen=True)
class NeedleAdvice:
    """What the needle card offers for a weight: never silent, never a wrong one-tap needle.

    A weight in a band: that needle in one tap, and the needle for significant overlying tissue.
    A weight between two bands (39.5 kg): the needles either side, with no single
    recommendation. Unknown: no needle by weight, but the seed chooses the deep-tissue needle by
    the tissue, not the weight, so it stays one tap. Under the table: no one-tap needle at all.
    Without a suggestion by weight any other needle needs a reason, and the card says to follow
    local protocol.
    """

    suggested: NeedleSize | None = None
    deep: NeedleSize | None = None
    neighbours: tuple = ()
    why_none: str = ""

    @classmethod
    def for_weight(cls, weight, needles):
        banded = [n for n in needles if n.has_weight_band]
        deep = next((n for n in needles if n.for_deep_tissue), None)
        if weight is None:
            return cls(
                deep=deep,
                why_none="Weight unknown: the checklist suggests no needle by weight "
                "— follow local protocol.",
            )
        if covering := next((n for n in banded if n.covers(weight)), None):
            return cls(suggested=covering, deep=deep)
        below = [
            n
            for n in banded
            if n.max_weight_kg is not None and n.max_weight_kg < weight
        ]
        above = [
            n
            for n in banded
            if n.min_weight_kg is not None and n.min_weight_kg > weight
        ]
        if not below:
            return cls(
                why_none="The checklist gives no needle for this weight "
                "— follow local protocol."
            )
        neighbours = [max(below, key=lambda n: n.max_weight_kg)]
        if above:
            neighbours.append(min(above, key=lambda n: n.min_weight_kg))
        return cls(
            deep=deep,
            neighbours=tuple(neighbours),
            why_none="Between the weight bands: no single recommendation in the checklist "
            "— follow local protocol.",
        )

    def expected(self, tissue):
        """The needle that needs no reason for `tissue`, or None."""
        return self.deep if tissue == "deep" else self.suggested

    def needs_reason(self, needle, tissue):
        if needle == self.expected(tissue):
            return False
        return not (tissue == "normal" and needle in self.neighbours)


@dataclass(frozen=True)
class VersionContent:
    """The items of one checklist version that the bay shows, and the blocks drawn from them
    alone (`attempts.templatetags.bay.why`), which live exactly as long as the items do."""

    steps: tuple
    sites: tuple
    contraindications: tuple
    needles: tuple
    blocks: dict = field(default_factory=dict, compare=False)

    @cached_property
    def source_keys(self):
        """The keys of the sources these items cite (kept with them, like `blocks`)."""
        return frozenset(
            source.key
            for items in (self.steps, self.sites, self.contraindications, self.needles)
            for item in items
            for source in item.sources.all()
        )


def _load_version_content(version_id):
    steps = (
        Step.objects.filter(version_id=version_id)
        .select_related("section")
        .prefetch_related("sources")
        .order_by("section__position", "position")
    )

    def cited(model):
        return model.objects.filter(version_id=version_id).prefetch_related("sources")

    return VersionContent(
        steps=tuple(steps),
        sites=tuple(cited(Site).order_by("position")),
        contraindications=tuple(cited(Contraindication).order_by("position")),
        needles=tuple(cited(NeedleSize).order_by("position")),
    )


def _kept_a_while(load):
    """`load(version_id)`, kept in the process for `IOACCESS_CONTENT_REFRESH_SECONDS`.

    A frozen version's items never change, but the sources they cite may be corrected in the
    admin (`checklists.models.Source`; the bay shows their keys, linked to the reference page)
    and every worker holds its own copy: reading it again now and then lets a correction reach
    every tablet without a restart.

    A dict in the process, not Django's cache: the content is kept as the objects it is (its
    `blocks` are drawn into it after it is kept), where a cache would keep a pickled copy.
    """
    kept = {}

    def get(version_id):
        now = time.monotonic()
        entry = kept.get(version_id)
        if entry is None or now - entry[0] >= settings.IOACCESS_CONTENT_REFRESH_SECONDS:
            entry = kept[version_id] = (now, load(version_id))
        return entry[1]

    get.cache_clear = kept.clear
    return get


_frozen_version_content = _kept_a_while(_load_version_content)


# Versions seen published or retired in this process: they never change again (their models
# refuse it), so an attempt's version id alone finds their content, without the version's row.
_frozen_version_ids = set()


def _is_frozen(version):
    if version.is_frozen:
        _frozen_version_ids.add(version.pk)
        return True
    return False


def version_content(version):
    """A version's bay content. Published and retired versions never change (their models
    refuse it), so they are read once per process and refresh (`_kept_a_while`); a draft is
    read every time."""
    if _is_frozen(version):
        return _frozen_version_content(version.pk)
    return _load_version_content(version.pk)


def attempt_content(attempt):
    """The bay content of the version `attempt` follows; the version's row is read (once,
    if the attempt's read did not join it) only until it is known to be frozen."""
    if attempt.checklist_version_id in _frozen_version_ids:
        return _frozen_version_content(attempt.checklist_version_id)
    return version_content(attempt.checklist_version)


def _load_troubleshooting(version_id):
    return tuple(
        TroubleshootingItem.objects.filter(version_id=version_id)
        .prefetch_related("sources")
        .order_by("position")
    )


_frozen_troubleshooting = _kept_a_while(_load_troubleshooting)


def troubleshooting_content(version):
    """A version's troubleshooting items, kept apart from `version_content`: only a tap on
    Troubleshoot needs them. Read once per process for a frozen version, like the cards."""
    if _is_frozen(version):
        return _frozen_troubleshooting(version.pk)
    return _load_troubleshooting(version.pk)


def progress(attempt, shown):
    """[(stage, state, reopens)] for the progress indicator: done, current or to do, and
    whether tapping it reopens that card (the flow allows answering it again)."""
    if attempt.stage == Stage.CLOSED and attempt.outcome != attempt.Outcome.SUCCESS:
        # Stopped part-way: ticking every stage would claim steps that never happened.
        return []
    stages = [
        stage
        for stage in flow.PROGRESS
        if stage != Stage.AFTERCARE or attempt.stage == Stage.AFTERCARE
    ]
    order = list(flow.PROGRESS)
    position = order.index(attempt.stage) if attempt.stage in order else len(order)
    rows = []
    for stage in stages:
        index = order.index(stage)
        state = (
            "current" if index == position else "done" if index < position else "todo"
        )
        reopens = stage != shown and index < position and flow.can_show(attempt, stage)
        rows.append((stage, state, reopens))
    return rows
