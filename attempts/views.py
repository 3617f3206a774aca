import copy

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.db import IntegrityError, transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import (
    HttpResponseClientRedirect,
    reswap,
    retarget,
    trigger_client_event,
)

from accounts import lock
from accounts.roles import CLINICIAN, SUPERVISOR, role_required
from attempts import flow
from attempts.forms import (
    ACTION_CARD,
    CARD_ACTIONS,
    TAP_ACTIONS,
    NextAttemptForm,
    RemovalForm,
    StartForm,
    TransferForm,
    card_forms,
    tap_form,
    tap_token,
)
from attempts.models import (
    NOTHING_TO_MOVE,
    Attempt,
    AttemptEvent,
    Location,
    RecordAccess,
)
from attempts.stages import StageContent, progress
from attempts.tablet_context import tablet_location
from checklists.models import ChecklistVersion
from ioaccess.htmx import render_page
from review.timeline import timeline as timeline_rows

LAST_LOCATION = "bay_location"


def _attempt_for(user, public_id):
    """An attempt at one of the user's locations; 404 for anything else."""
    return get_object_or_404(
        Attempt.objects.for_page().visible_to(user), public_id=public_id
    )


def _attempt_for_tap(request, public_id):
    """The attempt a tap is for, locked, with the token's replay answer and what its card
    shows, in one query; 404 for an attempt not at one of the user's locations."""
    try:
        return Attempt.objects.for_tap(request.user).locked_for_tap(
            public_id=public_id, client_token=tap_token(request.POST)
        )
    except Attempt.DoesNotExist:
        raise Http404 from None


def _record_tap(request, public_id, action):
    """(attempt, content, form, recorded, was_in_place): the tap's form recorded on its
    attempt, which is read once, locked, in one transaction with the record; whether the
    needle was in place before the tap."""
    try:
        return _record_tap_once(request, public_id, action)
    except IntegrityError:
        # A retry racing its first try (sent while the first was still being saved) fails on
        # the token's unique constraint; read again, the attempt answers it as a replay.
        return _record_tap_once(request, public_id, action)


def _record_tap_once(request, public_id, action):
    with transaction.atomic():
        attempt = _attempt_for_tap(request, public_id)
        was_in_place = attempt.is_in_place
        content = StageContent.load(attempt, now=timezone.now())
        form = tap_form(action, request.POST, attempt=attempt, content=content)
        recorded = form.record(attempt, by=request.user)
        return attempt, content, form, recorded, was_in_place


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
    if request.method == "POST":
        # A posted form shows what was posted: the location chosen for it is not read.
        form = StartForm(request.POST, locations=locations)
    else:
        # The bay the tablet stands at comes first: the session's last choice may be
        # another bay's.
        placed = tablet_location(request, staff=request.user)
        form = StartForm(
            locations=locations,
            initial={
                "location": placed
                or (last if locations.filter(pk=last).exists() else locations.first())
            },
        )
    if request.method == "POST" and version:
        attempt = form.start(by=request.user, version=version)
        if attempt is not None:
            if last != attempt.location_id:  # the session is written only if it changed
                request.session[LAST_LOCATION] = attempt.location_id
            return redirect("attempts:attempt-detail", public_id=attempt.public_id)
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        "attempts/start.html",
        {"form": form, "version": version},
        status=status,
    )


def _page_context(
    attempt,
    *,
    shown=None,
    forms=None,
    troubleshooting=None,
    content=None,
    notice=None,
):
    now = timezone.now()
    content = content or StageContent.load(attempt, now=now)
    if not (shown and flow.can_show(attempt, shown)):
        shown = attempt.stage
    page_forms = card_forms(attempt, content, shown)
    page_forms.update(forms or {})
    screen = (
        content.screen_for(attempt.site, attempt.side)
        if attempt.site_id and shown == Attempt.Stage.SCREEN
        else ([], set(), [])
    )
    return {
        "attempt": attempt,
        "episode": attempt.episode,
        "content": content,
        "shown": shown,
        "progress": progress(attempt, shown),
        "steps": content.steps_for(shown),
        "check_steps": content.check_steps_for(shown),
        "ticked": content.ticked,
        "same_bone": screen[2],
        "advice": content.needle_advice if shown == Attempt.Stage.NEEDLE else None,
        "forms": page_forms,
        "bound": next(iter((forms or {}).values()), None),
        "notice": notice,
        "can_stop": shown not in (flow.STOP_CARD, Attempt.Stage.OUTCOME)
        and flow.allows(attempt.stage, flow.STOP),
        "troubleshooting": troubleshooting,
        "can_troubleshoot": flow.allows(
            attempt.stage, flow.Kind.TROUBLESHOOTING_OPENED
        ),
        "now": now,
        "reference_url": reverse("checklists:reference"),
    }


# The cards a tablet can draw ahead: every card a tap may lead to, or a link reopen, before
# the attempt is finished. Each comes from the attempt's own published version (which never
# changes); the choices only the server makes (the needle suggested for the weight, the bone
# flagged by an earlier attempt) are known when the page is drawn.
AHEAD = (
    Attempt.Stage.SITE,
    Attempt.Stage.NEEDLE,
    Attempt.Stage.PREPARATION,
    Attempt.Stage.INSERTION,
    Attempt.Stage.CONFIRMATION,
    Attempt.Stage.OUTCOME,
)
# {tap action: {stage it is tapped in: stage it leads to}}, from the one transition table.
OFFLINE_MOVES = {action: flow.leads_from(kind) for action, kind in CARD_ACTIONS.items()}


def _offline_cards(request, attempt, content):
    """[(name, html)] of the cards the attempt can reach from here: the next ones at the
    stage they will have, the ones its moves reopen at its own stage, a contraindication
    screen for every site and side, and the stop card. Empty once the attempt is finished.

    The tablet (static/js/taps.js) sets each card's revision and the chosen site and needle
    when it shows one, from the taps it kept."""
    if attempt.stage not in flow.IN_PROGRESS:
        return []

    def draw(stage, shown, **choices):
        future = copy.copy(attempt)
        future.stage = stage
        for name, value in choices.items():
            setattr(future, name, value)
        context = _page_context(future, shown=shown, content=content)
        return render_to_string(
            "attempts/attempt_detail.html#stage", context, request=request
        )

    here = flow.IN_PROGRESS.index(attempt.stage)
    cards = []
    for card in AHEAD:
        if flow.IN_PROGRESS.index(card) >= here:
            cards.append((card, draw(card, card)))
        elif flow.can_show(attempt, card):
            cards.append((card, draw(attempt.stage, card)))
        if card == Attempt.Stage.SITE and cards:
            cards += [
                (
                    f"screen-{site.pk}-{side}",
                    draw(flow.Stage.SCREEN, flow.Stage.SCREEN, site=site, side=side),
                )
                for site in content.sites
                for side in Attempt.Side.values
            ]
    if flow.allows(attempt.stage, flow.STOP):
        cards.append((flow.STOP_CARD, draw(attempt.stage, flow.STOP_CARD)))
    return cards


SERVICE_WORKER = settings.BASE_DIR / "static" / "js" / "sw.js"


@login_not_required
@require_GET
def service_worker(request):
    """static/js/sw.js, served under /bay/ so that it may keep the bay's pages for a reload
    without network (a worker controls only the pages under its own path).

    Public like any static file (it holds no data): the browser checks it for updates on
    every visit under /bay/, also when nobody is signed in, and a redirect to the login page
    would make that check fail."""
    response = HttpResponse(SERVICE_WORKER.read_bytes(), content_type="text/javascript")
    # A new deploy's worker is found at the next page load, not after a day of caching.
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
@role_required(CLINICIAN)
def attempt_detail(request, public_id):
    """The attempt page: the current stage's card, or one the flow reopens (?show=…)."""
    attempt = _attempt_for(request.user, public_id)
    RecordAccess.log(request, RecordAccess.Action.ATTEMPT_PAGE, attempt=attempt)
    context = _page_context(attempt, shown=request.GET.get("show"))
    return render_page(
        request, "attempts/attempt_detail.html", context, partial="stage"
    )


@require_GET
@role_required(CLINICIAN)
def offline_cards(request, public_id):
    """The cards ahead of the attempt's (`_offline_cards`), which its page loads once it shows,
    so that neither the page nor a tap waits for them. Not logged as a view of the record: the
    page that loads them is."""
    attempt = _attempt_for(request.user, public_id)
    content = StageContent.load(attempt, now=timezone.now())
    context = {
        "attempt": attempt,
        "offline_cards": _offline_cards(request, attempt, content),
        "offline_moves": OFFLINE_MOVES,
    }
    return render(request, "attempts/attempt_detail.html#offline-cards", context)


def _answer_card(action, attempt):
    """The card a tap's form sits on, known from the action and the attempt's state."""
    if action == "outcome" and attempt.stage != Attempt.Stage.OUTCOME:
        return flow.STOP_CARD
    return ACTION_CARD.get(action, attempt.stage)


def _refused(request, attempt, notice):
    """409: nothing recorded; the current card replaces whatever the tap came from."""
    context = _page_context(attempt, notice=notice)
    response = render_page(
        request, "attempts/attempt_detail.html", context, partial="stage", status=409
    )
    if request.htmx:
        response = reswap(retarget(response, "#stage"), "outerHTML")
    return response


@require_POST
@role_required(CLINICIAN)
def attempt_record(request, public_id, action):
    """One tap: record its event and show the next card; 409 with the current card if the
    attempt has moved past it, 422 with the message at the field if the input is bad."""
    if action not in TAP_ACTIONS:
        raise Http404
    attempt, content, form, recorded, was_in_place = _record_tap(
        request, public_id, action
    )
    is_troubleshooting = action.startswith("troubleshoot")
    partial = "troubleshooting" if is_troubleshooting else "stage"
    if recorded:
        if not request.htmx:
            return redirect("attempts:attempt-detail", public_id=attempt.public_id)
        # The tap may have changed the ticks: read them again, not the whole content.
        content.forget_reads()
        items = content.troubleshooting_items() if is_troubleshooting else None
        context = _page_context(attempt, troubleshooting=items, content=content)
        response = render_page(
            request, "attempts/attempt_detail.html", context, partial=partial
        )
        if was_in_place or attempt.is_in_place:
            # The removal banner and the board show needles in place only: a tap on an
            # attempt that is not in place before or after it cannot change them, and each
            # reload is a request a busy server does not need.
            response = trigger_client_event(response, "attempt-updated")
        return response
    if form.refusal:
        return _refused(request, attempt, form.refusal)
    context = _page_context(
        attempt,
        shown=_answer_card(action, attempt),
        forms={action: form},
        troubleshooting=content.troubleshooting_items() if is_troubleshooting else None,
        content=content,
    )
    return render_page(
        request, "attempts/attempt_detail.html", context, partial=partial, status=422
    )


@require_POST
@role_required(CLINICIAN)
def next_attempt(request, public_id):
    """After a failed attempt: the next attempt in the same episode, in one tap."""
    attempt = _attempt_for(request.user, public_id)
    version = ChecklistVersion.objects.published().first() or attempt.checklist_version
    form = NextAttemptForm(request.POST)
    following = form.start(attempt, by=request.user, version=version)
    if following is None:
        if form.refusal:
            return _refused(request, attempt, form.refusal)
        context = _page_context(attempt, forms={"next": form})
        return render_page(
            request,
            "attempts/attempt_detail.html",
            context,
            partial="stage",
            status=422,
        )
    url = reverse("attempts:attempt-detail", kwargs={"public_id": following.public_id})
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@require_GET
@role_required(CLINICIAN)
def attempt_summary(request, public_id):
    """Everything recorded, in order, on the 24-hour clock; printable."""
    attempt = _attempt_for(request.user, public_id)
    RecordAccess.log(request, RecordAccess.Action.SUMMARY, attempt=attempt)
    context = {
        "attempt": attempt,
        # In the same words as the supervisor's timeline: times on the hospital's clock, and
        # what each removal, transfer or correction recorded.
        "rows": timeline_rows(attempt),
        # The supervisors' feedback on this attempt (review writes it; the bay only reads it).
        "sign_offs": attempt.sign_offs.select_related("by"),
    }
    return render(request, "attempts/attempt_summary.html", context)


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
    needles = Attempt.objects.on_board().with_users_locations(request.user)
    if not hospital_wide:
        needles = needles.visible_to(request.user)
    location = request.GET.get("location", "")
    # Opened without a choice, the board shows the bay the tablet stands at (if it is the user's).
    placed = None
    if not location and "scope" not in request.GET:
        placed = tablet_location(request, staff=request.user)
        location = str(placed.pk) if placed else ""
    # A filter, not a record: a value that is no location id shows the whole board.
    if location.isascii() and location.isdigit() and len(location) <= 9:
        needles = needles.filter(location_id=int(location))
    # A locked tablet's board stays up on the wall for anyone passing: needles and their
    # clocks, no patient reference and no actions (which would lead to the lock screen).
    locked = lock.is_locked(request.session)
    is_clinician = not locked and request.user.has_perm(CLINICIAN.permission)
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
                "site": attempt.site_label,
                "inserted": _short_time(attempt.inserted_at),
                "due": _short_time(attempt.removal_due_at),
                "can_act": is_clinician and attempt.is_users_location,
                "urls": {
                    name: url.replace(sentinel, public_id) for name, url in urls.items()
                },
            }
        )
    context = {
        "rows": rows,
        "hospital_wide": hospital_wide,
        "now": now,
        "placed": placed,
        "locked": locked,
    }
    return render_page(request, "attempts/board.html", context, partial="board-table")


@require_GET
@role_required(CLINICIAN, SUPERVISOR)
def removal_banner(request):
    """The overdue / due-soon banner, polled by every clinician and supervisor page."""
    return render(request, "includes/removal_banner.html")


@require_http_methods(["GET", "POST"])
@role_required(CLINICIAN)
def record_removal(request, public_id):
    """The attempt's own removal steps, then Record removal with the site's condition."""
    attempt = _attempt_for(request.user, public_id)
    # The checklist the attempt followed, not whatever is published today.
    content = StageContent.load(attempt, now=timezone.now())
    form = RemovalForm(
        request.POST if request.method == "POST" else None,
        complications=content.complications(),
    )
    if request.method == "POST" and form.record(attempt, by=request.user):
        messages.success(
            request,
            f"Removal recorded: {attempt.site_label} at {attempt.location}.",
        )
        return redirect("attempts:board")
    # The page shows the patient's record: a view of it, logged (a refused POST draws it too).
    RecordAccess.log(request, RecordAccess.Action.REMOVAL_PAGE, attempt=attempt)
    context = {
        "attempt": attempt,
        "form": form,
        "steps": content.steps.get("removal", []),
        "now": timezone.now(),
        "reference_url": reverse("checklists:reference"),
    }
    status = 409 if form.refusal else 422 if form.is_bound else 200
    return render(request, "attempts/removal.html", context, status=status)


@require_http_methods(["GET", "POST"])
@role_required(CLINICIAN)
def transfer(request, public_id):
    """Move the patient's IO needles in place to another location; each move is an event."""
    try:
        attempt = _attempt_for(request.user, public_id)
    except Http404:
        # A retry of a transfer that went through (a double tap, an answer lost): the needle
        # is now where the user may not follow it, and the answer is what the first one was.
        moved = _transfer_already_done(request, public_id)
        if not moved:
            raise
        messages.success(request, f"{len(moved)} IO needle(s) moved to {moved[0]}.")
        return redirect("attempts:board")
    locations = Location.objects.filter(is_active=True).exclude(pk=attempt.location_id)
    form = TransferForm(
        request.POST if request.method == "POST" else None,
        attempt=attempt,
        locations=locations,
    )
    if request.method == "POST":
        moved = form.transfer(by=request.user)
        if moved is not None:
            location = form.cleaned_data["location"]
            messages.success(request, f"{moved} IO needle(s) moved to {location}.")
            return redirect("attempts:board")
    RecordAccess.log(request, RecordAccess.Action.TRANSFER_PAGE, attempt=attempt)
    # Nothing to move (removed, or never in): the page says so and offers no Transfer button.
    nothing_to_move = form.refusal == NOTHING_TO_MOVE or (
        not form.is_bound and not attempt.episode.attempts.in_place().exists()
    )
    return render(
        request,
        "attempts/transfer.html",
        {
            "attempt": attempt,
            "form": form,
            "nothing_to_move": nothing_to_move and NOTHING_TO_MOVE,
        },
        status=409 if form.refusal else 422 if form.is_bound else 200,
    )


def _transfer_already_done(request, public_id):
    """Where each needle went that this request's token moved, by this user, in the patient
    of attempt `public_id`; empty if none."""
    token = tap_token(request.POST) if request.method == "POST" else None
    if token is None:
        return []
    moves = AttemptEvent.objects.filter(
        kind=AttemptEvent.Kind.TRANSFERRED,
        recorded_by=request.user,
        data__request=str(token),
        attempt__episode__attempts__public_id=public_id,
    )
    return [to for _, to in moves.values_list("pk", "data__to_name").distinct()]


@require_GET
@role_required(CLINICIAN)
def label(request, public_id):
    """A printable label for the limb: times, site, needle, remove-by and a QR code to the record."""
    attempt = _attempt_for(request.user, public_id)
    RecordAccess.log(request, RecordAccess.Action.LABEL, attempt=attempt)
    url = request.build_absolute_uri(
        reverse("attempts:attempt-detail", kwargs={"public_id": attempt.public_id})
    )
    qr = (
        segno.make(url, error="m").svg_inline(
            scale=3, title="Link to the attempt record"
        )
        if attempt.is_in_place
        else ""
    )
    return render(
        request, "attempts/label.html", {"attempt": attempt, "qr": qr, "url": url}
    )
