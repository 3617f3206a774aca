"""Factories: valid objects by default, one factory per role."""

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.db.models import Max

from accounts.roles import CLINICIAN, CONTENT_EDITOR, SUPERVISOR, group_for

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@hospital.example")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        for role in extracted or ():
            self.groups.add(group_for(role))


def granting(role):
    """A post-generation hook that puts the user in `role`'s group."""
    return lambda user, create, extracted, **kwargs: user.groups.add(group_for(role))


class ClinicianFactory(UserFactory):
    username = factory.Sequence(lambda n: f"clinician{n}")
    roles = factory.PostGeneration(granting(CLINICIAN))


class SupervisorFactory(UserFactory):
    username = factory.Sequence(lambda n: f"supervisor{n}")
    roles = factory.PostGeneration(granting(SUPERVISOR))


class ContentEditorFactory(UserFactory):
    username = factory.Sequence(lambda n: f"editor{n}")
    is_staff = True
    roles = factory.PostGeneration(granting(CONTENT_EDITOR))


class SuperuserFactory(UserFactory):
    username = factory.Sequence(lambda n: f"admin{n}")
    is_staff = True
    is_superuser = True


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "checklists.Source"
        django_get_or_create = ("key",)

    key = factory.Sequence(lambda n: f"T{n}")
    citation = factory.LazyAttribute(
        lambda s: f"Test source {s.key}. Test publisher, 2026."
    )
    grade = "H"


class ProcedureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "checklists.Procedure"
        django_get_or_create = ("slug",)

    slug = "intraosseous-access"
    name = "Intraosseous access"


class ChecklistVersionFactory(factory.django.DjangoModelFactory):
    """A draft by default; `published=True` for one in force (built as a draft, then published)."""

    class Meta:
        model = "checklists.ChecklistVersion"

    procedure = factory.SubFactory(ProcedureFactory)
    author = factory.SubFactory(ContentEditorFactory)
    change_summary = "Test version"

    @factory.lazy_attribute
    def number(self):
        """After the procedure's latest version: the loader and new_draft number versions too."""
        from checklists.models import ChecklistVersion

        latest = ChecklistVersion.objects.filter(
            procedure_id=self.procedure.pk
        ).aggregate(latest=Max("number"))["latest"]
        return (latest or 0) + 1


class SectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "checklists.Section"

    version = factory.SubFactory(ChecklistVersionFactory)
    slug = factory.Sequence(lambda n: f"section-{n}")
    title = factory.Sequence(lambda n: f"Section {n}")
    position = factory.Sequence(lambda n: n + 1)


class SourcedFactory(factory.django.DjangoModelFactory):
    """Content items cite a source by default."""

    class Meta:
        abstract = True
        skip_postgeneration_save = True

    @factory.post_generation
    def sources(self, create, extracted, **kwargs):
        if create:
            self.sources.set(
                extracted if extracted is not None else [SourceFactory(key="seed")]
            )


class StepFactory(SourcedFactory):
    class Meta:
        model = "checklists.Step"

    section = factory.SubFactory(SectionFactory)
    version = factory.SelfAttribute("section.version")
    slug = factory.Sequence(lambda n: f"step-{n}")
    position = factory.Sequence(lambda n: n + 1)
    text = factory.Sequence(lambda n: f"Do the thing number {n}")
    kind = "check"
    population = "all"


class SiteFactory(SourcedFactory):
    class Meta:
        model = "checklists.Site"

    version = factory.SubFactory(ChecklistVersionFactory)
    slug = factory.Sequence(lambda n: f"site-{n}")
    position = factory.Sequence(lambda n: n + 1)
    name = "Proximal humerus"
    bone = "humerus"
    for_adults = True
    landmarks = "Greater tubercle, per local protocol"


class ContraindicationFactory(SourcedFactory):
    class Meta:
        model = "checklists.Contraindication"

    version = factory.SubFactory(ChecklistVersionFactory)
    slug = factory.Sequence(lambda n: f"contra-{n}")
    position = factory.Sequence(lambda n: n + 1)
    text = "Fracture of this bone"
    severity = "do_not_use"


class NeedleSizeFactory(SourcedFactory):
    class Meta:
        model = "checklists.NeedleSize"

    version = factory.SubFactory(ChecklistVersionFactory)
    slug = factory.Sequence(lambda n: f"needle-{n}")
    position = factory.Sequence(lambda n: n + 1)
    length_mm = 15
    hub_colour = "pink"
    min_weight_kg = 3
    max_weight_kg = 39


class TroubleshootingItemFactory(SourcedFactory):
    class Meta:
        model = "checklists.TroubleshootingItem"

    version = factory.SubFactory(ChecklistVersionFactory)
    slug = factory.Sequence(lambda n: f"trouble-{n}")
    position = factory.Sequence(lambda n: n + 1)
    problem = "Resistance to flow"
    cause = "Needle through the far cortex"
    action = "Pull back 1-2 mm and recheck the flow"


def free_position(items):
    """A position none of `items` holds: past the highest, never a literal a Sequence can reach."""
    highest = items.aggregate(highest=Max("position"))["highest"]
    return (highest or 0) + 10


def published_version(**kwargs):
    """A small, complete version published by a second editor."""
    version = ChecklistVersionFactory(**kwargs)
    StepFactory(section=SectionFactory(version=version))
    SiteFactory(version=version)
    NeedleSizeFactory(
        version=version,
        min_weight_kg=40,
        max_weight_kg=None,
        length_mm=25,
        hub_colour="blue",
    )
    version.submit_for_review(by=version.author)
    return version.publish(by=ContentEditorFactory())


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "attempts.Location"
        django_get_or_create = ("name",)
        skip_postgeneration_save = True

    # Never "Resus 1": tests name their bays so, and get_or_create would share one.
    name = factory.Sequence(lambda n: f"Ward {n}")
    notify_email = factory.LazyAttribute(
        lambda loc: f"{loc.name.replace(' ', '').lower()}@hospital.example"
    )

    @factory.post_generation
    def staff(self, create, extracted, **kwargs):
        if create and extracted:
            self.staff.add(*extracted)


class EpisodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "attempts.Episode"

    location = factory.SubFactory(LocationFactory)
    age_group = "adult"
    weight_kg = 70
    context = "cardiac_arrest"
    created_by = factory.SubFactory(ClinicianFactory)


def reference_version():
    """The real reference checklist, loaded as make run loads it."""
    from django.core.management import call_command

    from checklists.models import ChecklistVersion

    call_command("load_io_checklist", verbosity=0)
    return ChecklistVersion.objects.published().get()


def started_attempt(*, episode=None, version=None, by=None):
    """An attempt started the way the bay starts one (with its STARTED event)."""
    import uuid

    episode = episode or EpisodeFactory()
    version = version or published_version()
    return episode.start_attempt(
        by=by or episode.created_by, version=version, client_token=uuid.uuid4()
    )


def walk(attempt, *, to, side="left"):
    """Record, as the bay would, the taps that bring `attempt` to stage `to`.

    Each tap goes through `record_event` and the flow's table, so a helper can never build an
    attempt the bay could not have made.
    """
    import uuid

    from attempts.flow import Stage

    version = attempt.checklist_version
    site = version.sites.filter(
        **{"for_adults" if attempt.population == "adult" else "for_children": True}
    ).first()
    needle = version.needle_sizes.first()
    taps = (
        (Stage.INDICATION, "indication_confirmed", {"answer": "met"}),
        (Stage.SITE, "site_chosen", {"site": site.pk, "side": side}),
        (Stage.SCREEN, "contraindications_screened", {"present": []}),
        (Stage.NEEDLE, "needle_chosen", {"needle": needle.pk}),
        (Stage.PREPARATION, "stage_completed", {}),
        (Stage.INSERTION, "needle_in_bone", {}),
        (Stage.CONFIRMATION, "placement_confirmed", {}),
        (Stage.OUTCOME, "outcome_recorded", {"outcome": "success"}),
    )
    for stage, kind, data in taps:
        if attempt.stage == to:
            break
        if attempt.stage == stage:
            attempt.record_event(
                kind=kind, by=attempt.operator, client_token=uuid.uuid4(), data=data
            )
    return attempt


def choose_site_and_needle(attempt, side="left"):
    """Record the taps that put a site, side and needle on an attempt (up to insertion)."""
    from attempts.flow import Stage

    return walk(attempt, to=Stage.INSERTION, side=side)


def needle_in_place(*, location=None, inserted=None, version=None, operator=None):
    """A successful attempt whose IO needle went in at `inserted` (default: now)."""
    import time_machine
    from django.utils import timezone

    from attempts.flow import Stage

    inserted = inserted or timezone.now()
    episode = EpisodeFactory(
        location=location or LocationFactory(),
        **({"created_by": operator} if operator else {}),
    )
    with time_machine.travel(inserted - timedelta(minutes=3), tick=False):
        attempt = choose_site_and_needle(
            started_attempt(episode=episode, version=version)
        )
    with time_machine.travel(inserted, tick=False):
        walk(attempt, to=Stage.AFTERCARE)
    attempt.refresh_from_db()
    return attempt
