"""What to do: the IO checklist as versioned, sourced content (design.md §3, §7).

A version is edited only while it is a draft. Published and retired versions, and every item in
them, refuse to be saved or deleted: a supervisor must always see exactly what a clinician saw.
"""

import unicodedata
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import (
    MaxLengthValidator,
    MaxValueValidator,
    MinValueValidator,
)
from django.db import models, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from checklists import drawings

STEP_TEXT_MAX_LENGTH = 140  # longer does not read at arm's length on a tablet
# Positioning and landmarks show on the bay's site card; the rest goes in the site's notes.
SITE_TEXT_MAX_LENGTH = 200
# A plausibility check against typing slips (a 0, an extra digit), not a clinical limit:
# the content's needles are 15, 25 and 45 mm (clinical-content.md, [S1]); no IO needle is near
# 0 mm, and 100 mm is more than twice the longest, so 150, 250 or 450 are refused.
NEEDLE_LENGTH_MM_MIN = 1
NEEDLE_LENGTH_MM_MAX = 100
NEEDLE_LENGTH_MESSAGE = (
    f"A needle is at least {NEEDLE_LENGTH_MM_MIN} mm and at most {NEEDLE_LENGTH_MM_MAX} mm "
    "long: check the number."
)
CAVEAT_HELP = (
    "Where sources differ, or the local protocol or the device's instructions decide: "
    "shown beside the item at the bedside."
)


def caveat_field():
    return models.TextField(blank=True, help_text=CAVEAT_HELP)


REVIEW_AGAIN = (
    "This version went back to draft and was submitted again after you opened it: what you "
    "reviewed is not what would be published. Review it again, then publish."
)
LIVE_CHANGED = (
    "Another version was published after you opened this page: publishing this one would "
    "undo its changes, which your page did not show. Review what changes again, then publish."
)
CHANGED_IT_YOURSELF = (
    "A second editor must approve: you changed or submitted this draft, so another editor, "
    "who did not, must review and publish it."
)
REVIEW_FIRST = (
    "Not published: publish it from its “Approve and publish” page, after reading "
    "what changes."
)


# Unicode categories that draw nothing: format characters (zero-width space, joiners, bidi
# marks), space and line/paragraph separators, control characters.
INVISIBLE_CATEGORIES = frozenset({"Cf", "Zs", "Zl", "Zp", "Cc"})
INVISIBLE_TEXT_MESSAGE = (
    "Write text a clinician can read: this has only spaces or invisible characters."
)


def has_visible_text(value):
    """Whether `value` has a character that shows on screen."""
    return any(unicodedata.category(char) not in INVISIBLE_CATEGORIES for char in value)


class VisibleTextMixin:
    """Required text of content must show something: text of only spaces or invisible
    characters (U+200B …) passes "not empty" and then shows the clinician nothing.

    The one rule for every required text field of a content model, at that field.
    """

    def clean_fields(self, exclude=None):
        errors = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as error:
            errors = error.update_error_dict(errors)
        for field in self._meta.concrete_fields:
            if (
                not isinstance(field, models.CharField | models.TextField)
                or isinstance(field, models.SlugField)
                or field.blank
                or field.choices
                or field.name in (exclude or ())
                or field.name in errors
            ):
                continue
            value = getattr(self, field.attname)
            if value and not has_visible_text(value):
                errors[field.name] = [INVISIBLE_TEXT_MESSAGE]
        if errors:
            raise ValidationError(errors)


class ImmutableContentError(Exception):
    """Raised when published or retired content would be changed."""


class SourceQuerySet(models.QuerySet):
    def cited_beyond_drafts(self):
        """Sources an item of a version in review, published or retired cites (one query)."""
        cited = Q()
        for model in _citing_models():
            cited |= Q(
                pk__in=model.sources.through.objects.exclude(
                    **{
                        f"{model._meta.model_name}__version__status": ChecklistVersion.Status.DRAFT
                    }
                ).values("source_id")
            )
        return self.filter(cited)

    def delete(self):
        if self.cited_beyond_drafts().exists():
            raise ImmutableContentError(
                "A source that a version in review, published or retired cites cannot be deleted."
            )
        return super().delete()


def _citing_models():
    """Every kind of item that cites sources (defined further down this module)."""
    return (Step, Site, Contraindication, NeedleSize, TroubleshootingItem)


class Source(VisibleTextMixin, models.Model):
    """One citation. Every content item cites at least one.

    A source is shared by versions: once a version in review, published or retired cites it,
    it is as frozen as that version (a change would rewrite what clinicians see, or saw,
    with no draft and no second editor). A correction is a new source, cited in a new draft.
    """

    class Grade(models.TextChoices):
        PRIMARY = "primary", "Primary (seed)"
        HIGH = "H", "H — authoritative, read directly"
        MEDIUM_HIGH = "M/H", "M/H"
        MEDIUM = "M", "M — authoritative via a copy, or partial"
        MEDIUM_LOW = "M/L", "M/L"
        LOW_MEDIUM = "L/M", "L/M"
        LOW = "L", "L — low quality, shows disagreement only"

    key = models.CharField(
        max_length=20, unique=True, help_text="Short key, e.g. seed or S9."
    )
    citation = models.TextField(help_text="The full reference.")
    url = models.URLField("address", max_length=500, blank=True)
    grade = models.CharField(max_length=10, choices=Grade.choices)
    loaded_digest = models.CharField(
        max_length=64,
        blank=True,
        editable=False,
        help_text="Digest of what the loader last wrote; a row an editor changed no longer matches.",
    )

    objects = SourceQuerySet.as_manager()

    class Meta:
        ordering = ("pk",)
        constraints = (
            models.CheckConstraint(
                condition=Q(grade__in=["primary", "H", "M/H", "M", "M/L", "L/M", "L"]),
                name="%(app_label)s_%(class)s_grade_valid",
            ),
            models.CheckConstraint(
                condition=~Q(citation=""),
                name="%(app_label)s_%(class)s_citation_not_empty",
            ),
        )

    def __str__(self):
        return self.key

    def save(self, *args, **kwargs):
        if self.pk is not None and self.citing_versions():
            raise ImmutableContentError(self.frozen_message("changed"))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.citing_versions():
            raise ImmutableContentError(self.frozen_message("deleted"))
        return super().delete(*args, **kwargs)

    def citing_versions(self):
        """The versions in review, published or retired whose items cite this source (a query)."""
        if self.pk is None:
            return []
        cited = Q()
        for model in _citing_models():
            cited |= Q(pk__in=model.objects.filter(sources=self).values("version_id"))
        return list(
            ChecklistVersion.objects.exclude(status=ChecklistVersion.Status.DRAFT)
            .filter(cited)
            .select_related("procedure")
            .order_by("procedure", "number")
        )

    def frozen_message(self, what="changed", versions=None):
        versions = self.citing_versions() if versions is None else versions
        cited_by = ", ".join(
            f"version {v.number} ({v.get_status_display().lower()})" for v in versions
        )
        return (
            f"Source {self.key} is cited by {cited_by}: it cannot be {what}. To correct it, "
            "add a new source and cite it in a new draft."
        )


class Procedure(models.Model):
    """A procedure with its own checklist, e.g. "Intraosseous access"."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)

    def __str__(self):
        return self.name


class ChecklistVersionQuerySet(models.QuerySet):
    def published(self):
        return self.filter(status=ChecklistVersion.Status.PUBLISHED)

    def with_content(self):
        """Everything a reference page, a preview or a diff shows, in a fixed number of queries."""
        steps = Step.objects.select_related("section").prefetch_related("sources")
        return self.select_related("procedure", "author", "reviewer").prefetch_related(
            models.Prefetch(
                "sections",
                Section.objects.order_by("position").prefetch_related(
                    models.Prefetch("steps", steps.order_by("position"))
                ),
            ),
            models.Prefetch("steps", steps.order_by("section__position", "position")),
            models.Prefetch("sites", Site.objects.prefetch_related("sources")),
            models.Prefetch(
                "contraindications",
                Contraindication.objects.select_related("site").prefetch_related(
                    "sources"
                ),
            ),
            models.Prefetch(
                "needle_sizes", NeedleSize.objects.prefetch_related("sources")
            ),
            models.Prefetch(
                "troubleshooting_items",
                TroubleshootingItem.objects.prefetch_related("sources"),
            ),
        )


CHANGED_SINCE = (
    "This draft was saved by someone else (or in another tab) after you opened this page, so "
    "your changes were not saved: they would have undone theirs. Open the page again to see "
    "the draft as it is now, then make your changes again."
)


class ChecklistVersion(models.Model):
    """A numbered version of a procedure's checklist: draft → in review → published → retired."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        PUBLISHED = "published", "Published"
        RETIRED = "retired", "Retired"

    procedure = models.ForeignKey(
        Procedure, on_delete=models.PROTECT, related_name="versions"
    )
    number = models.PositiveIntegerField()
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.DRAFT
    )
    based_on = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty for the reference content loaded by load_io_checklist.",
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    change_summary = models.TextField(blank=True)
    contributors = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="+",
        blank=True,
        editable=False,
        help_text="Everyone who saved a part of this version while it was a draft, or "
        "submitted it: none of them may publish it.",
    )
    is_reference_content = models.BooleanField(
        default=False,
        help_text="Loaded from the reference fact base, not yet approved by this hospital's editors.",
    )
    content_digest = models.CharField(max_length=64, blank=True, editable=False)
    edits = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text="How many times a page of this draft was saved: a page drawn before the "
        "latest save is out of date, and its save is refused.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    submitted_at = models.DateTimeField(null=True, blank=True, editable=False)
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    retired_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ChecklistVersionQuerySet.as_manager()

    class Meta:
        ordering = ("procedure", "-number")
        get_latest_by = "number"
        permissions = (
            ("publish_checklistversion", "Can approve and publish a checklist version"),
        )
        constraints = (
            models.UniqueConstraint(
                fields=["procedure", "number"],
                name="%(app_label)s_%(class)s_number_unique",
            ),
            models.UniqueConstraint(
                fields=["procedure"],
                condition=Q(status="published"),
                name="%(app_label)s_%(class)s_one_published",
                violation_error_message="This procedure already has a published version.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "in_review", "published", "retired"]),
                name="%(app_label)s_%(class)s_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "in_review"])
                | Q(published_at__isnull=False),
                name="%(app_label)s_%(class)s_published_has_time",
            ),
        )

    def __str__(self):
        return f"{self.procedure} v{self.number} ({self.get_status_display()})"

    def save(self, *args, **kwargs):
        # Transitions out of published go through conditional updates, never through save().
        if self._stored_status() in {self.Status.PUBLISHED, self.Status.RETIRED}:
            raise ImmutableContentError(
                f"{self} is {self.status} and cannot be changed."
            )
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("checklists:version-preview", kwargs={"pk": self.pk})

    def delete(self, *args, **kwargs):
        if self._stored_status() != self.Status.DRAFT:
            raise ImmutableContentError(
                f"Only a draft can be deleted; {self} is not a draft."
            )
        return super().delete(*args, **kwargs)

    @property
    def is_editable(self):
        return self.status == self.Status.DRAFT

    @property
    def is_frozen(self):
        return self.status in {self.Status.PUBLISHED, self.Status.RETIRED}

    def _stored_status(self):
        if self.pk is None:
            return None
        return (
            type(self)
            .objects.filter(pk=self.pk)
            .values_list("status", flat=True)
            .first()
        )

    def submit_for_review(self, *, by):
        """Draft → in review. Returns the version."""
        if self.status != self.Status.DRAFT:
            raise ValidationError("Only a draft can be submitted for review.")
        problems = self.content_problems()
        if problems:
            raise ValidationError(problems)
        self.status = self.Status.IN_REVIEW
        self.submitted_at = timezone.now()
        if self.author is None:
            self.author = by
        self.save(update_fields=["status", "submitted_at", "author"])
        self.record_contribution(by=by)
        return self

    def record_contribution(self, *, by):
        """Note that `by` changed or submitted this draft, so they cannot be its reviewer."""
        if by is not None:
            self.contributors.add(by)

    def record_edit(self, *, by):
        """A page of this draft was saved by `by`: they share in it, and every page of it
        drawn before is now out of date (`check_not_changed_since`)."""
        self.record_contribution(by=by)
        ChecklistVersion.objects.filter(pk=self.pk).update(edits=F("edits") + 1)

    def check_not_changed_since(self, seen_edits):
        """Refuse a save from a page drawn before another save of this draft (another tab,
        another editor), which would silently put back what that save changed. Locks the
        version's row until the save's transaction ends, so two saves at once take turns."""
        current = (
            ChecklistVersion.objects.select_for_update()
            .values_list("edits", flat=True)
            .get(pk=self.pk)
        )
        if seen_edits != current:
            raise ValidationError(CHANGED_SINCE, code="changed_since")

    def changed_by(self, user):
        """Whether `user` wrote, changed or submitted this version (a query)."""
        return (
            self.author_id == user.pk or self.contributors.filter(pk=user.pk).exists()
        )

    def return_to_draft(self, *, by):
        """In review → draft, so the author can make changes the reviewer asked for."""
        if self.status != self.Status.IN_REVIEW:
            raise ValidationError("Only a version in review can go back to draft.")
        self.status = self.Status.DRAFT
        self.submitted_at = None
        self.save(update_fields=["status", "submitted_at"])
        return self

    @property
    def review_mark(self):
        """What a reviewer's publish form carries: when the content they read went into
        review, and which version was live, the one the page's diff compared it with. If
        either changed since, publishing would not do what they approved (a version published
        meanwhile would be retired, its changes undone unseen). Reads the live version."""
        live = (
            type(self)
            .objects.filter(
                procedure_id=self.procedure_id, status=self.Status.PUBLISHED
            )
            .values_list("pk", flat=True)
            .first()
        )
        submitted = self.submitted_at.isoformat() if self.submitted_at else ""
        return f"{submitted}|{live or ''}"

    def publish(self, *, by, now=None, as_reference=False, reviewed=None):
        """In review → published, retiring the previous published version, all or nothing.

        Two-person rule: the reviewer `by` must not be the author. `reviewed` is the
        review_mark of the page the reviewer approved: if the version went back to draft
        since, what they saw is not what would be published. `as_reference` is only for the
        loader, which publishes the reference content with no author so the demo works.
        """
        now = now or timezone.now()
        with transaction.atomic():
            # Every publish of a procedure locks its one procedure row first, so two editors
            # approving two versions at once take turns: locking only this version's row let
            # both retire the old published version and then both publish (a 500 on the
            # one-published constraint). The second to go retires the first.
            Procedure.objects.select_for_update().get(pk=self.procedure_id)
            current = type(self).objects.select_for_update().get(pk=self.pk)
            if as_reference:
                if current.status not in {self.Status.DRAFT, self.Status.IN_REVIEW}:
                    raise ValidationError(
                        "Only a draft or a version in review can be published."
                    )
            else:
                if current.status != self.Status.IN_REVIEW:
                    raise ValidationError("Only a version in review can be published.")
                if by is None or current.author_id == by.pk:
                    raise ValidationError(
                        "A second editor must approve: the author cannot publish their own draft."
                    )
                # A co-editor's change was seen by nobody but them, as the author's would be.
                if current.contributors.filter(pk=by.pk).exists():
                    raise ValidationError(CHANGED_IT_YOURSELF)
                if reviewed is not None and reviewed != (mark := current.review_mark):
                    if not reviewed:
                        raise ValidationError(REVIEW_FIRST)
                    if reviewed.partition("|")[0] == mark.partition("|")[0]:
                        raise ValidationError(LIVE_CHANGED)
                    raise ValidationError(REVIEW_AGAIN)
            problems = self.content_problems()
            if problems:
                raise ValidationError(problems)
            type(self).objects.filter(
                procedure_id=self.procedure_id, status=self.Status.PUBLISHED
            ).update(status=self.Status.RETIRED, retired_at=now)
            updated = (
                type(self)
                .objects.filter(pk=self.pk, status=current.status)
                .update(
                    status=self.Status.PUBLISHED,
                    reviewer=None if as_reference else by,
                    published_at=now,
                    is_reference_content=as_reference,
                )
            )
            if updated != 1:
                raise ValidationError(
                    "This version changed while it was being published."
                )
        self.refresh_from_db()
        return self

    def new_draft(self, *, author):
        """A new draft copying this version's whole tree, numbered after the latest version.

        Only from a published or retired version: a draft or a version in review is edited
        (or sent back to draft) itself, never copied into a second line of drafts."""
        if not self.is_frozen:
            raise ValidationError(
                f"{self} is not published: edit it, or start a new draft from a "
                "published or retired version."
            )
        with transaction.atomic():
            latest = (
                type(self)
                .objects.select_for_update()
                .filter(procedure_id=self.procedure_id)
                .order_by("-number")
                .first()
            )
            draft = type(self).objects.create(
                procedure_id=self.procedure_id,
                number=latest.number + 1,
                based_on=self,
                author=author,
                change_summary="",
            )
            self.copy_content_to(draft)
            draft.record_contribution(by=author)
        return draft

    def copy_content_to(self, draft):
        """Copy sections, steps, sites, contraindications, needles and troubleshooting to `draft`."""
        sections = {}
        for section in self.sections.all():
            sections[section.pk] = Section.objects.create(
                version=draft,
                slug=section.slug,
                title=section.title,
                position=section.position,
            )
        sites = {}
        for site in self.sites.prefetch_related("sources"):
            old_pk = site.pk
            sites[old_pk] = _copy_item(site, version=draft)
        for step in self.steps.prefetch_related("sources"):
            _copy_item(step, version=draft, section=sections[step.section_id])
        for item in self.contraindications.prefetch_related("sources"):
            _copy_item(item, version=draft, site=sites.get(item.site_id))
        for item in self.needle_sizes.prefetch_related("sources"):
            _copy_item(item, version=draft)
        for item in self.troubleshooting_items.prefetch_related("sources"):
            _copy_item(item, version=draft)

    def cited_sources(self):
        """Every source the version's items cite, by key. Reads prefetched content (with_content)."""
        items = [
            *self.steps.all(),
            *self.sites.all(),
            *self.contraindications.all(),
            *self.needle_sizes.all(),
            *self.troubleshooting_items.all(),
        ]
        cited = {source.pk: source for item in items for source in item.sources.all()}
        return sorted(cited.values(), key=lambda source: source.pk)

    def content_problems(self):
        """What stops this version from going to review or being published, in plain words."""
        problems = []
        if not self.steps.exists():
            problems.append("The version has no steps.")
        for model in (Step, Site, Contraindication, NeedleSize, TroubleshootingItem):
            unsourced = model.objects.filter(version=self, sources__isnull=True)
            for item in unsourced:
                problems.append(
                    f"{model._meta.verbose_name.capitalize()} “{item}” has no source."
                )
        for site in self.sites.filter(landmarks=""):
            problems.append(f"Site “{site}” has no landmarks.")
        needles = list(self.needle_sizes.all())
        for needle in needles:
            clash = needle.overlapping(needles)
            if clash:
                problems.append(f"Needle {needle} overlaps the weight band of {clash}.")
        return problems


def _copy_item(item, **changes):
    sources = list(item.sources.all())
    item.pk = None
    item.id = None
    item._state.adding = True
    for field, value in changes.items():
        setattr(item, field, value)
    item.save()
    item.sources.set(sources)
    return item


class Population(models.TextChoices):
    ALL = "all", "All patients"
    ADULT = "adult", "Adults"
    CHILD = "child", "Children"


class VersionContent(VisibleTextMixin, models.Model):
    """An item of a checklist version: editable only while its version is a draft."""

    version = models.ForeignKey(ChecklistVersion, on_delete=models.CASCADE)
    position = models.PositiveIntegerField(default=0)
    slug = models.SlugField(
        max_length=80, help_text="Stable key, used to compare versions."
    )

    class Meta:
        abstract = True
        ordering = ("position", "pk")

    def save(self, *args, **kwargs):
        if not self._version_is_editable():
            raise ImmutableContentError(
                f"{self.version} is not a draft: its content cannot be changed."
            )
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if not self._version_is_editable():
            raise ImmutableContentError(
                f"{self.version} is not a draft: its content cannot be deleted."
            )
        return super().delete(*args, **kwargs)

    def _version_is_editable(self):
        status = (
            ChecklistVersion.objects.filter(pk=self.version_id)
            .values_list("status", flat=True)
            .first()
        )
        return status in {None, ChecklistVersion.Status.DRAFT}


def _content_constraints(name):
    return [
        models.UniqueConstraint(
            fields=["version", "slug"], name=f"%(app_label)s_{name}_slug_unique"
        ),
        models.UniqueConstraint(
            fields=["version", "position"], name=f"%(app_label)s_{name}_position_unique"
        ),
    ]


class Section(VersionContent):
    """An ordered section of a version: indication, contraindications, site … removal."""

    version = models.ForeignKey(
        ChecklistVersion, on_delete=models.CASCADE, related_name="sections"
    )
    title = models.CharField(max_length=80)

    class Meta(VersionContent.Meta):
        constraints = _content_constraints("section")

    def __str__(self):
        return self.title


class Step(VersionContent):
    """One short instruction or check in a section."""

    class Kind(models.TextChoices):
        CHECK = "check", "Check"
        INFO = "info", "Information"
        WARNING = "warning", "Warning"

    version = models.ForeignKey(
        ChecklistVersion, on_delete=models.CASCADE, related_name="steps"
    )
    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="steps")
    text = models.CharField(
        max_length=STEP_TEXT_MAX_LENGTH,
        help_text=f"Short and imperative; at most {STEP_TEXT_MAX_LENGTH} characters.",
    )
    detail = models.TextField(blank=True)
    caveat = caveat_field()
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.CHECK)
    is_critical = models.BooleanField("critical", default=False)
    population = models.CharField(
        max_length=10, choices=Population.choices, default=Population.ALL
    )
    sources = models.ManyToManyField(Source, related_name="+")

    class Meta(VersionContent.Meta):
        ordering = ("section__position", "position", "pk")
        constraints = (
            models.UniqueConstraint(
                fields=["version", "slug"], name="%(app_label)s_step_slug_unique"
            ),
            models.UniqueConstraint(
                fields=["section", "position"],
                name="%(app_label)s_step_position_unique",
            ),
            models.CheckConstraint(
                condition=~Q(text=""), name="%(app_label)s_step_text_not_empty"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["check", "info", "warning"]),
                name="%(app_label)s_step_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(population__in=["all", "adult", "child"]),
                name="%(app_label)s_step_population_valid",
            ),
        )

    def __str__(self):
        return self.text

    def clean(self):
        # Empty or invisible text is refused at the field (VisibleTextMixin).
        if (
            self.section_id
            and self.version_id
            and self.section.version_id != self.version_id
        ):
            raise ValidationError({"section": "Choose a section of this version."})

    def applies_to(self, population):
        return self.population in {Population.ALL, population}


class Site(VersionContent):
    """An insertion site with the populations it serves, positioning and landmarks."""

    class Bone(models.TextChoices):
        HUMERUS = "humerus", "Humerus"
        TIBIA = "tibia", "Tibia"
        FEMUR = "femur", "Femur"

    version = models.ForeignKey(
        ChecklistVersion, on_delete=models.CASCADE, related_name="sites"
    )
    name = models.CharField(max_length=80)
    bone = models.CharField(
        max_length=10,
        choices=Bone.choices,
        help_text="Sites on the same bone count as the same bone for the 48-hour rule.",
    )
    for_adults = models.BooleanField(default=False)
    for_children = models.BooleanField(default=False)
    positioning = models.TextField(
        blank=True, validators=[MaxLengthValidator(SITE_TEXT_MAX_LENGTH)]
    )
    landmarks = models.TextField(
        validators=[MaxLengthValidator(SITE_TEXT_MAX_LENGTH)],
        help_text=f"What the bay shows under “How to find it”; at most {SITE_TEXT_MAX_LENGTH} "
        "characters, the rest in the notes.",
    )
    notes = models.TextField(blank=True)
    caveat = caveat_field()
    drawing = models.CharField(
        max_length=40,
        blank=True,
        choices=drawings.CHOICES,
        help_text="The line drawing the bay shows for this site.",
    )
    sources = models.ManyToManyField(Source, related_name="+")

    class Meta(VersionContent.Meta):
        constraints = (
            *_content_constraints("site"),
            models.CheckConstraint(
                condition=~Q(landmarks=""),
                name="%(app_label)s_site_landmarks_not_empty",
            ),
            models.CheckConstraint(
                condition=Q(for_adults=True) | Q(for_children=True),
                name="%(app_label)s_site_serves_someone",
            ),
        )

    def __str__(self):
        return f"{self.name} ({self.populations_label})"

    @property
    def populations_label(self):
        return ", ".join(
            label
            for served, label in (
                (self.for_adults, "adults"),
                (self.for_children, "children"),
            )
            if served
        )

    def clean(self):
        errors = {}
        # Text with nothing visible is refused at the field (VisibleTextMixin).
        if not self.landmarks:
            errors["landmarks"] = (
                "Describe the landmarks: a site without them cannot be used."
            )
        if not (self.for_adults or self.for_children):
            errors["for_children"] = "Tick at least one population this site serves."
        if errors:
            raise ValidationError(errors)

    def serves(self, population):
        return self.for_adults if population == Population.ADULT else self.for_children

    @property
    def region(self):
        """The limb region, for contraindications such as an abdominal injury (all leg sites)."""
        if self.bone == self.Bone.HUMERUS:
            return Contraindication.Region.UPPER_LIMB
        return Contraindication.Region.LOWER_LIMB

    @property
    def drawing_path(self):
        return drawings.static_path(self.drawing) if self.drawing else ""

    @property
    def drawing_alt(self):
        return drawings.alt_text(self.drawing)


class Contraindication(VersionContent):
    """A reason not to use a site: for any site, for the sites of one limb region, or for one
    site; for all patients or for one population."""

    class Severity(models.TextChoices):
        DO_NOT_USE = "do_not_use", "Do not use"
        AVOID = "avoid_unless_no_alternative", "Avoid unless no alternative"

    class Region(models.TextChoices):
        ANY = "any", "Any site"
        LOWER_LIMB = "lower_limb", "Lower-limb sites (tibia, femur)"
        UPPER_LIMB = "upper_limb", "Upper-limb sites (humerus)"

    version = models.ForeignKey(
        ChecklistVersion, on_delete=models.CASCADE, related_name="contraindications"
    )
    text = models.CharField(max_length=STEP_TEXT_MAX_LENGTH)
    region = models.CharField(
        max_length=12,
        choices=Region.choices,
        default=Region.ANY,
        help_text="The sites it applies to, unless one site is chosen below.",
    )
    site = models.ForeignKey(
        Site,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="contraindications",
        help_text="Only this site. Empty: the region above decides.",
    )
    population = models.CharField(
        max_length=10, choices=Population.choices, default=Population.ALL
    )
    severity = models.CharField(max_length=30, choices=Severity.choices)
    caveat = caveat_field()
    sources = models.ManyToManyField(Source, related_name="+")

    class Meta(VersionContent.Meta):
        constraints = (
            *_content_constraints("contraindication"),
            models.CheckConstraint(
                condition=Q(severity__in=["do_not_use", "avoid_unless_no_alternative"]),
                name="%(app_label)s_contraindication_severity_valid",
            ),
            models.CheckConstraint(
                condition=Q(region__in=["any", "lower_limb", "upper_limb"]),
                name="%(app_label)s_contraindication_region_valid",
            ),
            models.CheckConstraint(
                condition=Q(population__in=["all", "adult", "child"]),
                name="%(app_label)s_contraindication_population_valid",
            ),
            models.CheckConstraint(
                condition=Q(site__isnull=True) | Q(region="any"),
                name="%(app_label)s_contraindication_site_or_region",
                violation_error_message="Choose one site or a region, not both.",
            ),
        )

    def __str__(self):
        return self.text

    def clean(self):
        if self.site_id and self.version_id and self.site.version_id != self.version_id:
            raise ValidationError(
                {"site": "Choose a site of this version, or leave it empty."}
            )
        if self.site_id and self.region != self.Region.ANY:
            raise ValidationError(
                {
                    "region": "Choose one site or a region, not both: set the region to “Any site”."
                }
            )

    def applies_to(self, site, population):
        """Whether the screen for `site` in a patient of `population` asks about this item."""
        if self.population not in (Population.ALL, population):
            return False
        if self.site_id is not None:
            return self.site_id == site.pk
        return self.region in (self.Region.ANY, site.region)


class NeedleSize(VersionContent):
    """A needle length with its hub colour and the weight band it is suggested for."""

    version = models.ForeignKey(
        ChecklistVersion, on_delete=models.CASCADE, related_name="needle_sizes"
    )
    length_mm = models.PositiveSmallIntegerField(
        "length (mm)",
        validators=[
            MinValueValidator(NEEDLE_LENGTH_MM_MIN, message=NEEDLE_LENGTH_MESSAGE),
            MaxValueValidator(NEEDLE_LENGTH_MM_MAX, message=NEEDLE_LENGTH_MESSAGE),
        ],
    )
    hub_colour = models.CharField(max_length=20)
    min_weight_kg = models.DecimalField(
        "from (kg)",
        max_digits=5,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Lowest weight of the band, inclusive. Empty: no lower limit.",
    )
    max_weight_kg = models.DecimalField(
        "to (kg)",
        max_digits=5,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Highest weight of the band, inclusive. Empty: no upper limit.",
    )
    for_deep_tissue = models.BooleanField(
        "for significant overlying tissue",
        default=False,
        help_text="Chosen by the tissue over the site, not by weight: no weight band.",
    )
    tissue_note = models.CharField(max_length=200, blank=True)
    caveat = caveat_field()
    sources = models.ManyToManyField(Source, related_name="+")

    class Meta(VersionContent.Meta):
        constraints = (
            *_content_constraints("needlesize"),
            models.CheckConstraint(
                condition=Q(min_weight_kg__isnull=True)
                | Q(max_weight_kg__isnull=True)
                | Q(min_weight_kg__lte=models.F("max_weight_kg")),
                name="%(app_label)s_needlesize_band_ordered",
            ),
        )

    def __str__(self):
        return f"{self.length_mm} mm {self.hub_colour}"

    @property
    def has_weight_band(self):
        return not self.for_deep_tissue

    @property
    def band_label(self):
        if self.for_deep_tissue:
            return self.tissue_note or "Significant overlying tissue"
        low, high = _kg(self.min_weight_kg), _kg(self.max_weight_kg)
        if low is not None and high is not None:
            return f"{low}–{high} kg"  # noqa: RUF001 - an en dash reads as a range
        if low is not None:
            return f"≥ {low} kg"
        if high is not None:
            return f"≤ {high} kg"
        return "any weight"

    def covers(self, weight_kg):
        """Whether a weight falls in this needle's band (inclusive at both ends)."""
        if not self.has_weight_band or weight_kg is None:
            return False
        low, high = self.min_weight_kg, self.max_weight_kg
        return (low is None or weight_kg >= low) and (high is None or weight_kg <= high)

    def overlapping(self, others):
        """The first needle in `others` whose weight band overlaps this one, or None."""
        if not self.has_weight_band:
            return None
        inf = Decimal("Infinity")
        low, high = self.min_weight_kg or Decimal(0), self.max_weight_kg or inf
        for other in others:
            if (
                other is self
                or (other.pk and other.pk == self.pk)
                or not other.has_weight_band
            ):
                continue
            other_low = other.min_weight_kg or Decimal(0)
            other_high = other.max_weight_kg or inf
            if low <= other_high and other_low <= high:
                return other
        return None

    def clean(self):
        low, high = self.min_weight_kg, self.max_weight_kg
        if self.for_deep_tissue and (low is not None or high is not None):
            raise ValidationError(
                {
                    "min_weight_kg": "A needle chosen by tissue depth has no weight band: clear it."
                }
            )
        if low is not None and high is not None and low > high:
            raise ValidationError(
                {"max_weight_kg": "The band must end at or above where it starts."}
            )
        # An admin formset compares the bands as edited together (NeedleSizeFormSet).
        checked_elsewhere = getattr(self, "band_checked_by_formset", False)
        if self.version_id and self.has_weight_band and not checked_elsewhere:
            clash = self.overlapping(
                NeedleSize.objects.filter(version_id=self.version_id)
            )
            if clash:
                raise ValidationError(
                    {
                        "min_weight_kg": f"This weight band overlaps {clash} ({clash.band_label})."
                    }
                )


def _kg(value):
    """39.0 → "39", 2.5 → "2.5"."""
    return None if value is None else format(Decimal(value).normalize(), "f")


class TroubleshootingItem(VersionContent):
    """A problem, its likely cause and the action to take."""

    version = models.ForeignKey(
        ChecklistVersion, on_delete=models.CASCADE, related_name="troubleshooting_items"
    )
    problem = models.CharField(max_length=STEP_TEXT_MAX_LENGTH)
    cause = models.CharField(max_length=STEP_TEXT_MAX_LENGTH)
    action = models.CharField(max_length=STEP_TEXT_MAX_LENGTH)
    caveat = caveat_field()
    sources = models.ManyToManyField(Source, related_name="+")

    class Meta(VersionContent.Meta):
        constraints = _content_constraints("troubleshootingitem")

    def __str__(self):
        return f"{self.problem} — {self.cause}"
