import uuid

from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from accounts.roles import CLINICIAN, role_required
from attempts.forms import TAP_ACTIONS, StartForm, tap_form
from attempts.models import Attempt, AttemptEvent, Episode, Location
from attempts.stages import FLOW, StageContent, can_reopen, progress, ticked_steps
from checklists.models import ChecklistVersion
from ioaccess.htmx import render_page

LAST_LOCATION = "bay_location"


def _attempt_for(user, public_id):
    """An attempt at one of the user's locations; 404 for anything else."""
    return get_object_or_404(
        Attempt.objects.for_page().visible_to(user), public_id=public_id
    )


@require_GET
@role_required(CLINICIAN)
def home(request):
    """The clinician's home: Start, attempts in progress and needles in place at their locations."""
    mine = Attempt.objects.for_page().visible_to(request.user)
    context = {
        "in_progress": mine.in_progress().order_by("-started_at"),
        "in_place": mine.in_place().order_by("removal_due_at"),
        "has_locations": Location.objects.filter(
            staff=request.user, is_active=True
        ).exists(),
        "now": timezone.now(),
    }
    return render(request, "attempts/home.html", context)


@require_http_methods(["GET", "POST"])
@role_required(CLINICIAN)
def start(request):
    """Start card: a new episode and its first attempt, following the published checklist."""
    locations = Location.objects.filter(staff=request.user, is_active=True)
    version = ChecklistVersion.objects.published().select_related("procedure").first()
    last = request.session.get(LAST_LOCATION)
    form = StartForm(
        request.POST or None,
        locations=locations,
        initial={
            "location": last
            if locations.filter(pk=last).exists()
            else locations.first()
        },
    )
    if request.method == "POST" and version and form.is_valid():
        data = form.cleaned_data
        attempt = Episode.open(
            by=request.user,
            version=version,
            client_token=data["client_token"],
            location=data["location"],
            age_group=data["age_group"],
            weight_kg=data["weight_kg"],
            patient_reference=data["patient_reference"].strip(),
            context=data["context"],
        )
        request.session[LAST_LOCATION] = data["location"].pk
        return redirect("attempts:attempt-detail", public_id=attempt.public_id)
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        "attempts/start.html",
        {"form": form, "version": version, "token": uuid.uuid4()},
        status=status,
    )


def _page_context(
    attempt, *, shown=None, forms=None, troubleshooting=None, content=None
):
    now = timezone.now()
    content = content or StageContent.load(attempt, now=now)
    shown = shown or attempt.stage
    screen = (
        content.screen_for(attempt.site)
        if attempt.site_id and shown == Attempt.Stage.SCREEN
        else ([], set(), [])
    )
    return {
        "attempt": attempt,
        "episode": attempt.episode,
        "content": content,
        "shown": shown,
        "progress": [
            (stage, state, can_reopen(attempt, stage))
            for stage, state in progress(attempt)
        ],
        "steps": content.steps_for(shown),
        "check_steps": content.check_steps_for(shown),
        "screen_items": screen[0],
        "pre_ticked": screen[1],
        "same_bone": screen[2],
        "suggested_normal": content.suggest_needle("normal"),
        "suggested_deep": content.suggest_needle("deep"),
        "forms": forms or {},
        "bound": next(iter((forms or {}).values()), None),
        "troubleshooting": troubleshooting,
        "now": now,
        "reference_url": reverse("checklists:reference"),
    }


@require_GET
@role_required(CLINICIAN)
def attempt_detail(request, public_id):
    """The attempt page: the current stage's card, or a re-opened earlier one (?show=…)."""
    attempt = _attempt_for(request.user, public_id)
    shown = request.GET.get("show")
    if shown and not can_reopen(attempt, shown):
        shown = None
    context = _page_context(attempt, shown=shown)
    return render_page(
        request, "attempts/attempt_detail.html", context, partial="stage"
    )


@require_POST
@role_required(CLINICIAN)
def attempt_record(request, public_id, action):
    """One tap: validate it, record its event, and show the next card (422 with the errors if not)."""
    if action not in TAP_ACTIONS:
        raise Http404
    attempt = _attempt_for(request.user, public_id)
    shown = request.POST.get("stage") or attempt.stage
    content = StageContent.load(attempt, now=timezone.now())
    form = tap_form(action, request.POST, attempt=attempt, content=content, stage=shown)
    if form.is_valid():
        try:
            attempt.record_event(
                by=request.user,
                client_token=form.cleaned_data["client_token"],
                **form.event(),
            )
        except ValidationError as error:
            form.add_error(None, error)
    is_troubleshooting = action.startswith("troubleshoot")
    if form.is_valid():
        if not request.htmx:
            return redirect("attempts:attempt-detail", public_id=attempt.public_id)
        items = content.troubleshooting_items() if is_troubleshooting else None
        if action == "check":
            content.ticked = ticked_steps(attempt)
        context = _page_context(attempt, troubleshooting=items, content=content)
        response = render_page(
            request,
            "attempts/attempt_detail.html",
            context,
            partial="troubleshooting" if is_troubleshooting else "stage",
        )
        return trigger_client_event(response, "attempt-updated")
    # Stay on the card the tap came from, with the message at the field that caused it.
    context = _page_context(
        attempt,
        shown=shown if shown in dict(FLOW) else None,
        forms={action: form},
        troubleshooting=content.troubleshooting_items() if is_troubleshooting else None,
        content=content,
    )
    partial = "troubleshooting" if is_troubleshooting else "stage"
    return render_page(
        request, "attempts/attempt_detail.html", context, partial=partial, status=422
    )


@require_POST
@role_required(CLINICIAN)
def next_attempt(request, public_id):
    """After a failed attempt: the next attempt in the same episode, in one tap."""
    attempt = _attempt_for(request.user, public_id)
    try:
        token = uuid.UUID(request.POST.get("client_token", ""))
    except ValueError:
        token = None
    if attempt.outcome != Attempt.Outcome.FAILED or token is None:
        return redirect("attempts:attempt-detail", public_id=attempt.public_id)
    version = ChecklistVersion.objects.published().first() or attempt.checklist_version
    following = attempt.episode.start_attempt(
        by=request.user, version=version, client_token=token
    )
    url = reverse("attempts:attempt-detail", kwargs={"public_id": following.public_id})
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@require_GET
@role_required(CLINICIAN)
def attempt_summary(request, public_id):
    """Everything recorded, in order, on the 24-hour clock; printable."""
    attempt = _attempt_for(request.user, public_id)
    events = attempt.events.select_related("recorded_by", "step").prefetch_related(
        Prefetch("corrections", AttemptEvent.objects.only("pk", "corrects_id"))
    )
    return render(
        request, "attempts/attempt_summary.html", {"attempt": attempt, "events": events}
    )
