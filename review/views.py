from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from accounts.roles import SUPERVISOR, role_required
from attempts.models import REUSED_FORM, Attempt, RecordAccess
from review import deviations
from review.forms import SignOffForm
from review.models import IN_PROGRESS, OWN_ATTEMPT
from review.numbers import OPERATOR_QUERY
from review.queries import AttemptFilter, review_rows
from review.timeline import timeline as timeline_rows

PAGE_SIZE = 25


@require_GET
@role_required(SUPERVISOR)
def attempt_list(request):
    """Every logged attempt, newest first, filtered by a GET form that can be bookmarked.

    A filter that does not validate answers 422 with its message at the field and lists
    nothing: django-filter drops the invalid field and would list every attempt as if it
    matched (the downloads answer 400 and the numbers 422 to the same query).
    """
    filtered = AttemptFilter(
        request.GET or None, queryset=review_rows(now=timezone.now())
    )
    if filtered.is_bound and not filtered.is_valid():
        return render(
            request,
            "review/home.html",
            {"filter": filtered, "invalid": True},
            status=422,
        )
    page = Paginator(filtered.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "review/home.html",
        {"filter": filtered, "page": page, "query": query.urlencode()},
    )


def _attempt(public_id):
    return get_object_or_404(
        review_rows(now=timezone.now()).select_related("checklist_version"),
        public_id=public_id,
    )


@require_GET
@role_required(SUPERVISOR)
def timeline(request, public_id):
    """One attempt's events in order, against the version it followed; printable."""
    attempt = _attempt(public_id)
    RecordAccess.log(request, RecordAccess.Action.TIMELINE, attempt=attempt)
    return render(request, "review/timeline.html", _timeline_context(request, attempt))


def _timeline_context(request, attempt, form=None):
    own = attempt.operator_id == request.user.pk
    in_progress = attempt.outcome == Attempt.Outcome.IN_PROGRESS
    return {
        "attempt": attempt,
        "rows": timeline_rows(attempt),
        "late_removal": Attempt.objects.filter(
            deviations.late_removal(timezone.now()), pk=attempt.pk
        ).exists(),
        "others": attempt.episode.attempts.exclude(pk=attempt.pk).order_by("number"),
        "sign_offs": attempt.sign_offs.select_related("by"),
        "own": own,
        "own_message": OWN_ATTEMPT,
        "in_progress": in_progress,
        "in_progress_message": IN_PROGRESS,
        "form": form
        or (
            None
            if own or in_progress
            else SignOffForm(attempt=attempt, by=request.user)
        ),
    }


@require_http_methods(["POST"])
@role_required(SUPERVISOR)
def sign_off(request, public_id):
    """Record a sign-off; a later one adds to the earlier ones."""
    attempt = _attempt(public_id)
    form = SignOffForm(request.POST, attempt=attempt, by=request.user)
    if attempt.operator_id == request.user.pk:
        form.add_error(None, OWN_ATTEMPT)
    elif _made_before(form, attempt, request.user) or _saved(form):
        messages.success(request, f"Signed off attempt {attempt.number}.")
        return redirect("review:timeline", public_id=attempt.public_id)
    # The refusal shows the whole timeline (the patient's record): logged as the GET is.
    RecordAccess.log(request, RecordAccess.Action.TIMELINE, attempt=attempt)
    context = _timeline_context(request, attempt, form=form)
    context["form"] = form
    return render(request, "review/timeline.html", context, status=422)


def _made_before(form, attempt, user):
    """Whether this form was sent before and made its sign-off (a retry, a second tab): then
    the answer is the first one's. A token that made another sign-off is refused on the form."""
    made = form.already_made()
    if made is None:
        return False
    if (made.attempt_id, made.by_id) == (attempt.pk, user.pk):
        return True
    form.add_error(None, REUSED_FORM)
    return False


def _saved(form):
    if form.errors or not form.is_valid():
        return False
    try:
        with transaction.atomic():
            form.save()
    except IntegrityError:
        # The same form sent twice at once: the other request made the sign-off.
        return form.already_made() is not None
    except ValidationError as error:
        form.add_error(None, error)
        return False
    return True


@require_GET
@role_required(SUPERVISOR)
def audit(request):
    """Who opened or exported which record; read-only for everyone."""
    entries = RecordAccess.objects.select_related("user", "attempt__episode__location")
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    _name_operator_logs(page.object_list)
    return render(request, "review/audit.html", {"page": page})


def _name_operator_logs(entries):
    """`operator_log` (id, name) on each operator-log download of `entries`, whose query
    says whose log it was: one query for the page, none without such a row."""
    wanted = {}
    for entry in entries:
        if entry.action == RecordAccess.Action.OPERATOR_CSV:
            found = QueryDict(entry.query).get(OPERATOR_QUERY, "")
            if found.isdigit():
                wanted[entry.pk] = int(found)
    if not wanted:
        return
    names = {
        user.pk: user.get_full_name() or user.get_username()
        for user in get_user_model().objects.filter(pk__in=set(wanted.values()))
    }
    for entry in entries:
        if entry.pk in wanted and wanted[entry.pk] in names:
            entry.operator_log = (wanted[entry.pk], names[wanted[entry.pk]])
