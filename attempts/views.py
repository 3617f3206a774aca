import uuid

import segno
from django.contrib import messages
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from accounts.roles import CLINICIAN, SUPERVISOR, role_required
from attempts.forms import TAP_ACTIONS, RemovalForm, StartForm, TransferForm, tap_form
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
    is_troubleshooting = action.startswith("troubleshoot")
    if form.record(attempt, by=request.user):
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


def _published_section_steps(slug):
    version = ChecklistVersion.objects.published().first()
    if version is None:
        return []
    return list(
        version.steps.filter(section__slug=slug)
        .prefetch_related("sources")
        .order_by("position")
    )


def _short_time(moment):
    """ "24 Nov 14:05" in the hospital's time zone, without a template filter per cell."""
    local = timezone.localtime(moment)
    return f"{local.day} {local:%b %H:%M}"


@require_GET
@role_required(CLINICIAN, SUPERVISOR)
def board(request):
    """IO needles in place, due first: at the user's locations, or hospital-wide."""
    now = timezone.now()
    hospital_wide = request.GET.get("scope") == "all"
    needles = Attempt.objects.on_board()
    if not hospital_wide:
        needles = needles.visible_to(request.user)
    location = request.GET.get("location")
    if location and location.isdigit():
        needles = needles.filter(location_id=location)
    mine = set(Location.objects.filter(staff=request.user).values_list("pk", flat=True))
    is_clinician = request.user.has_perm(CLINICIAN.permission)
    # Five hundred rows: reverse each action once and fill in the attempt's id.
    sentinel = "00000000-0000-0000-0000-000000000000"
    urls = {
        name: reverse(f"attempts:attempt-{name}", kwargs={"public_id": sentinel})
        for name in ("removal", "label", "transfer")
    }
    rows = []
    for attempt in needles:
        public_id = str(attempt.public_id)
        rows.append(
            {
                "attempt": attempt,
                "state": attempt.removal_state(now),
                "left": attempt.removal_due_at - now,
                "site": f"{attempt.site.name}, {attempt.get_side_display().lower()}",
                "inserted": _short_time(attempt.inserted_at),
                "due": _short_time(attempt.removal_due_at),
                "can_act": is_clinician and attempt.location_id in mine,
                "urls": {
                    name: url.replace(sentinel, public_id) for name, url in urls.items()
                },
            }
        )
    context = {"rows": rows, "hospital_wide": hospital_wide, "now": now}
    return render_page(request, "attempts/board.html", context, partial="board-table")


@require_GET
@role_required(CLINICIAN, SUPERVISOR)
def removal_banner(request):
    """The overdue / due-soon banner, polled by every clinician and supervisor page."""
    return render(request, "includes/removal_banner.html")


@require_http_methods(["GET", "POST"])
@role_required(CLINICIAN)
def record_removal(request, public_id):
    """The published removal steps, then Record removal with the site's condition."""
    attempt = _attempt_for(request.user, public_id)
    complications = _published_section_steps("complications")
    form = RemovalForm(request.POST or None, complications=complications)
    if request.method == "POST" and form.record(attempt, by=request.user):
        messages.success(
            request,
            f"Removal recorded: {attempt.site.name}, {attempt.get_side_display().lower()} "
            f"at {attempt.location}.",
        )
        return redirect("attempts:board")
    context = {
        "attempt": attempt,
        "form": form,
        "steps": _published_section_steps("removal"),
        "now": timezone.now(),
        "reference_url": reverse("checklists:reference"),
    }
    return render(
        request, "attempts/removal.html", context, status=422 if form.is_bound else 200
    )


@require_http_methods(["GET", "POST"])
@role_required(CLINICIAN)
def transfer(request, public_id):
    """Move the patient's IO needles in place to another location; each move is an event."""
    attempt = _attempt_for(request.user, public_id)
    locations = Location.objects.filter(is_active=True).exclude(pk=attempt.location_id)
    form = TransferForm(request.POST or None, attempt=attempt, locations=locations)
    if request.method == "POST" and form.is_valid():
        location = form.cleaned_data["location"]
        moved = attempt.episode.transfer_needles(
            by=request.user, to=location, client_token=form.cleaned_data["client_token"]
        )
        messages.success(request, f"{moved} IO needle(s) moved to {location}.")
        return redirect("attempts:board")
    return render(
        request,
        "attempts/transfer.html",
        {"attempt": attempt, "form": form},
        status=422 if form.is_bound else 200,
    )


@require_GET
@role_required(CLINICIAN)
def label(request, public_id):
    """A printable label for the limb: times, site, needle, remove-by and a QR code to the record."""
    attempt = _attempt_for(request.user, public_id)
    url = request.build_absolute_uri(
        reverse("attempts:attempt-detail", kwargs={"public_id": attempt.public_id})
    )
    qr = segno.make(url, error="m").svg_inline(
        scale=3, title="Link to the attempt record"
    )
    return render(
        request, "attempts/label.html", {"attempt": attempt, "qr": qr, "url": url}
    )
