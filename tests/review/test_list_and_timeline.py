"""The supervisor's list of attempts, an attempt's timeline, sign-off and the access log."""

import re
import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attempts.flow import Stage
from attempts.models import AttemptEvent, RecordAccess
from review.models import FEEDBACK_MAX, IN_PROGRESS, OWN_ATTEMPT, SignOff
from tests.factories import (
    ClinicianFactory,
    ContentEditorFactory,
    EpisodeFactory,
    LocationFactory,
    SupervisorFactory,
    needle_in_place,
    reference_version,
    started_attempt,
    walk,
)

pytestmark = pytest.mark.django_db
HOME = reverse("review:home")
Kind = AttemptEvent.Kind


def rows(html):
    """The list's rows: the text of each <tr> in the table body."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", tr)).strip()
        for tr in body.split("</tr>")[:-1]
    ]


def timeline_url(attempt):
    return reverse("review:timeline", args=[attempt.public_id])


def test_the_list_shows_every_attempt_newest_first_with_its_columns(client, supervisor):
    version = reference_version()
    older = needle_in_place(
        version=version, inserted=timezone.now() - timedelta(days=2)
    )
    newer = started_attempt(
        episode=EpisodeFactory(patient_reference="MRN-77"), version=version
    )
    client.force_login(supervisor)
    html = client.get(HOME).text
    listed = rows(html)
    assert len(listed) == 2
    assert "MRN-77" in listed[0]
    assert "In progress" in listed[0]
    assert older.site_label in listed[1]
    assert "in place" in listed[1]
    assert "Not reviewed" in listed[1]
    assert html.count(">Timeline</a>") == 2
    assert timeline_url(newer) in html


def test_filters_narrow_the_list_and_the_url_can_be_shared(client, supervisor):
    version = reference_version()
    here, there = LocationFactory(), LocationFactory()
    kept = needle_in_place(location=here, version=version)
    needle_in_place(location=there, version=version)
    late = needle_in_place(
        location=there, version=version, inserted=timezone.now() - timedelta(hours=30)
    )
    client.force_login(supervisor)
    html = client.get(HOME, {"location": here.pk}).text
    assert len(rows(html)) == 1
    assert timeline_url(kept) in html
    # The export links carry the same filter.
    assert f"?location={here.pk}" in html
    html = client.get(HOME, {"overdue": "on"}).text
    assert [timeline_url(late) in html, len(rows(html))] == [True, 1]
    html = client.get(HOME, {"not_reviewed": "on", "outcome": "success"}).text
    assert len(rows(html)) == 3


def figure(html, row_id):
    """The text of one row of the numbers page's figures table."""
    row = html.split(f'id="{row_id}">', 1)[1].split("</tr>", 1)[0]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()


def test_the_list_and_the_numbers_count_a_transferred_needle_where_it_was_made(
    client, supervisor
):
    version = reference_version()
    resus, icu = LocationFactory(name="Resus 1"), LocationFactory(name="ICU")
    moved = needle_in_place(location=resus, version=version)
    moved.episode.transfer_needles(
        by=moved.operator, to=icu, client_token=uuid.uuid4(), shown_at=resus.pk
    )
    stayed = needle_in_place(location=icu, version=version)
    today = timezone.localdate()
    client.force_login(supervisor)
    for bay, attempt in ((resus, moved), (icu, stayed)):
        period = {
            "started_from": (today - timedelta(days=1)).isoformat(),
            "started_to": today.isoformat(),
            "location": bay.pk,
        }
        html = client.get(HOME, period).text
        listed = rows(html)
        assert len(listed) == 1
        assert timeline_url(attempt) in html
        numbers = client.get(reverse("review:numbers"), period).text
        assert figure(numbers, "figure-attempts").startswith("Attempts 1 attempts")
    (row,) = rows(client.get(HOME, {"location": resus.pk}).text)
    assert "Resus 1 now at ICU" in row
    html = client.get(timeline_url(moved)).text
    assert "Made at</dt><dd>Resus 1" in html
    assert "now at</dt><dd>ICU" in html


def field_errors(html):
    """{field name: its error message}, as Django's field group renders them."""
    return {
        name: re.sub(r"<[^>]+>", "", message).strip()
        for name, message in re.findall(
            r'<ul class="errorlist" id="id_(\w+)_error">(.*?)</ul>', html, re.S
        )
    }


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("location", "999", "Choose one of the locations listed."),
        ("location", "x", "Choose one of the locations listed."),
        (
            "started_from",
            "2026-02-30",
            "Enter the first day as a date, e.g. 2026-01-31.",
        ),
        ("started_to", "10000-01-01", "Enter the last day as a date, e.g. 2026-03-31."),
        ("outcome", "bogus", "Choose one of the outcomes listed."),
        ("operator", "-1", "Choose one of the operators listed."),
    ],
)
@pytest.mark.parametrize("htmx", [False, True])
def test_a_filter_that_does_not_validate_lists_nothing_and_says_why_at_the_field(
    client, supervisor, name, value, message, htmx
):
    needle_in_place(version=reference_version())
    client.force_login(supervisor)
    headers = {"HX-Request": "true"} if htmx else {}
    response = client.get(HOME, {name: value}, headers=headers)
    assert response.status_code == 422
    html = response.text
    assert field_errors(html) == {name: message}
    assert "<tbody>" not in html
    assert ">Timeline</a>" not in html
    assert "No attempts listed" in html
    # What was typed is kept, to be corrected.
    if name.startswith("started_"):
        assert f'value="{value}"' in html


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        (
            {"started_from": "2026-11-30", "started_to": "2026-11-01"},
            {"started_to": "The last day is before the first day."},
        ),
        (
            {"started_from": "0001-01-01"},
            {"started_from": "Enter a day from 1900 to 2999."},
        ),
        # A day the date field could not show (and whose day and month order is a guess).
        (
            {"started_from": "01/11/2026"},
            {"started_from": "Enter the first day as a date, e.g. 2026-01-31."},
        ),
    ],
)
def test_the_lists_period_follows_the_numbers_rule_and_the_downloads_refuse_it_too(
    client, supervisor, query, errors
):
    needle_in_place(version=reference_version())
    client.force_login(supervisor)
    response = client.get(HOME, query)
    assert response.status_code == 422
    assert field_errors(response.text) == errors
    assert "No attempts listed" in response.text
    numbers = client.get(reverse("review:numbers"), query)
    assert numbers.status_code == 422
    for name in ("review:list-csv", "review:list-fhir"):
        download = client.get(reverse(name), query)
        assert download.status_code == 400
        assert all(message in download.text for message in errors.values())


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "started_from",
                "started_to",
                "location",
                "operator",
                "site",
                "outcome",
                "overdue",
                "has_deviations",
                "not_reviewed",
                "page",
            ]
        ),
        st.text(max_size=12),
    )
)
def test_any_filter_input_is_answered_without_an_error(client, supervisor, query):
    client.force_login(supervisor)
    response = client.get(HOME, query)
    assert response.status_code in (200, 422)
    if response.status_code == 422:
        assert field_errors(response.text)
        assert "<tbody>" not in response.text


def test_the_list_reads_a_constant_number_of_queries(
    client, supervisor, django_assert_max_num_queries
):
    version = reference_version()
    for _ in range(100):
        started_attempt(version=version)
    client.force_login(supervisor)
    client.get(HOME)  # warm the per-process caches
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as hundred:
        response = client.get(HOME)
    assert len(rows(response.text)) == 25
    for _ in range(5):
        started_attempt(version=version)
    with CaptureQueriesContext(connection) as more:
        client.get(HOME, {"page": 2})
    assert len(hundred) == len(more) <= 12


def test_the_timeline_shows_what_the_clinician_saw_after_a_new_version(
    client, supervisor
):
    v1 = reference_version()
    attempt = walk(started_attempt(version=v1), to=Stage.PREPARATION)
    step = v1.steps.filter(section__slug="preparation", kind="check").first()
    attempt.record_event(
        kind=Kind.STEP_CHECKED,
        by=attempt.operator,
        client_token=uuid.uuid4(),
        step=step,
        data={"step": step.pk, "checked": True},
    )
    walk(attempt, to=Stage.AFTERCARE)
    old_text = step.text
    draft = v1.new_draft(author=ContentEditorFactory())
    changed = draft.steps.get(slug=step.slug)
    changed.text = "Version 2 wording of this step"
    changed.save()
    draft.submit_for_review(by=draft.author)
    draft.publish(by=ContentEditorFactory())

    client.force_login(supervisor)
    html = client.get(timeline_url(attempt)).text
    assert "version 1" in html
    assert old_text in html.replace("&#x27;", "'")
    assert "Version 2 wording" not in html


def test_the_timeline_names_each_deviation_in_words(client, supervisor):
    version = reference_version()
    attempt = needle_in_place(
        version=version, inserted=timezone.now() - timedelta(hours=30)
    )
    attempt.record_event(
        kind=Kind.CORRECTION,
        by=attempt.operator,
        client_token=uuid.uuid4(),
        data={
            "field": "inserted_at",
            "new": (attempt.inserted_at + timedelta(minutes=5)).isoformat(),
            "reason": "Clock on the wall was slow",
        },
    )
    client.force_login(supervisor)
    html = client.get(timeline_url(attempt)).text
    assert "Deviation: Insertion time moved later" in html
    assert "Clock on the wall was slow" in html
    assert "stayed in past its 24-hour deadline" in html
    listed = rows(client.get(HOME).text)
    assert re.search(r"⚠ 2\b", listed[0])


def signed(data):
    """A sign-off as its form posts it: with the form's own token."""
    return {"token": str(uuid.uuid4()), **data}


def test_a_sign_off_sent_again_is_the_one_it_made_and_its_token_signs_nothing_else(
    client, supervisor
):
    first, second = (needle_in_place(version=reference_version()) for _ in range(2))
    client.force_login(supervisor)
    url = reverse("review:sign-off", args=[first.public_id])
    form = client.get(timeline_url(first)).text
    token = read_hidden(form, "token")
    sent = {"token": token, "feedback": "Good landmarks."}
    assert client.post(url, sent).status_code == 302
    again = client.post(url, sent, follow=True)
    assert "Signed off attempt" in again.text
    assert list(first.sign_offs.values_list("feedback", flat=True)) == [
        "Good landmarks."
    ]
    other = reverse("review:sign-off", args=[second.public_id])
    refused = client.post(other, sent)
    assert refused.status_code == 422
    assert "This form was already used" in refused.text
    assert not second.sign_offs.exists()
    # Without its token (a page from before it, a hand-made post): reload, nothing signed.
    stale = client.post(other, {"feedback": "Good"})
    assert stale.status_code == 422
    assert "This form is out of date: reload the page and sign off again." in stale.text
    assert not second.sign_offs.exists()


def test_sign_off_adds_and_never_overwrites_and_the_clinician_reads_it(
    client, supervisor
):
    attempt = needle_in_place(version=reference_version())
    attempt.location.staff.add(attempt.operator)
    client.force_login(supervisor)
    url = reverse("review:sign-off", args=[attempt.public_id])
    client.post(url, signed({"feedback": "Good landmarks."}))
    client.post(url, signed({"feedback": "Discussed the flush.", "competent": "on"}))
    notes = list(attempt.sign_offs.order_by("pk"))
    assert [n.feedback for n in notes] == ["Good landmarks.", "Discussed the flush."]
    assert [n.competent for n in notes] == [False, True]
    assert "Signed off" in rows(client.get(HOME).text)[0]

    first = notes[0]
    first.feedback = "Rewritten"
    with pytest.raises(ValidationError):
        first.save()
    with pytest.raises(ValidationError):
        first.delete()
    with pytest.raises(ValidationError):
        SignOff.objects.filter(pk=first.pk).update(feedback="Rewritten")
    with pytest.raises(ValidationError):
        SignOff.objects.all().delete()

    client.force_login(attempt.operator)
    summary = client.get(reverse("attempts:attempt-summary", args=[attempt.public_id]))
    assert "Good landmarks." in summary.text
    assert "competent for unsupervised IO" in summary.text


def test_a_supervisor_cannot_sign_off_their_own_attempt(client):
    location = LocationFactory()
    both = SupervisorFactory()
    from accounts.roles import CLINICIAN, group_for

    both.groups.add(group_for(CLINICIAN))
    location.staff.add(both)
    attempt = started_attempt(
        episode=EpisodeFactory(location=location, created_by=both),
        version=reference_version(),
        by=both,
    )
    client.force_login(both)
    assert OWN_ATTEMPT in client.get(timeline_url(attempt)).text
    response = client.post(
        reverse("review:sign-off", args=[attempt.public_id]), {"feedback": "Mine"}
    )
    assert response.status_code == 422
    assert OWN_ATTEMPT in response.text
    assert not SignOff.objects.exists()
    with pytest.raises(ValidationError):
        SignOff(attempt=attempt, by=both, feedback="Mine").save()


def test_empty_feedback_is_refused_at_the_field(client, supervisor):
    attempt = needle_in_place(version=reference_version())
    client.force_login(supervisor)
    response = client.post(
        reverse("review:sign-off", args=[attempt.public_id]),
        signed({"feedback": "  "}),
    )
    assert response.status_code == 422
    assert "Write the feedback for the clinician." in response.text
    assert not SignOff.objects.exists()


def test_an_attempt_in_progress_cannot_be_signed_off(client, supervisor):
    attempt = walk(started_attempt(version=reference_version()), to=Stage.SITE)
    client.force_login(supervisor)
    html = client.get(timeline_url(attempt)).text
    assert IN_PROGRESS in html
    assert ">Sign off</button>" not in html

    response = client.post(
        reverse("review:sign-off", args=[attempt.public_id]),
        signed({"feedback": "Looks good so far", "competent": "on"}),
    )
    assert response.status_code == 422
    assert IN_PROGRESS in response.text
    assert "Looks good so far" in response.text
    assert not SignOff.objects.exists()
    assert timeline_url(attempt) in client.get(HOME, {"not_reviewed": "on"}).text
    with pytest.raises(ValidationError):
        SignOff(attempt=attempt, by=supervisor, feedback="Shell").save()


def test_feedback_has_a_generous_limit_said_at_the_field(client, supervisor):
    attempt = needle_in_place(version=reference_version())
    client.force_login(supervisor)
    url = reverse("review:sign-off", args=[attempt.public_id])
    response = client.post(url, signed({"feedback": "x" * (FEEDBACK_MAX + 1)}))
    assert response.status_code == 422
    assert field_errors(response.text) == {
        "feedback": f"Shorten the feedback to {FEEDBACK_MAX} characters or fewer "
        f"(it has {FEEDBACK_MAX + 1})."
    }
    assert not SignOff.objects.exists()
    assert client.post(url, signed({"feedback": "x" * FEEDBACK_MAX})).status_code == 302
    assert len(SignOff.objects.get().feedback) == FEEDBACK_MAX
    with pytest.raises(ValidationError):
        SignOff(attempt=attempt, by=supervisor, feedback="y" * 200_000).save()


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.dictionaries(
        st.sampled_from(["feedback", "competent", "attempt", "by", "at", "token"]),
        st.text(max_size=30),
    )
)
def test_any_sign_off_post_is_answered_without_an_error(client, supervisor, data):
    attempt = needle_in_place(version=reference_version())
    client.force_login(supervisor)
    # The form's own token, unless the example sends another value for it.
    sent = {"token": str(uuid.uuid4()), **data}
    response = client.post(reverse("review:sign-off", args=[attempt.public_id]), sent)
    assert response.status_code in {302, 422}
    for note in attempt.sign_offs.all():
        # What the server decides is never taken from the post.
        assert (note.by, note.attempt) == (supervisor, attempt)


def test_every_view_of_a_record_writes_one_access_row(client, supervisor):
    attempt = needle_in_place(version=reference_version())
    operator = attempt.operator
    attempt.location.staff.add(operator)
    views = [
        (operator, "attempts:attempt-detail", RecordAccess.Action.ATTEMPT_PAGE),
        (operator, "attempts:attempt-summary", RecordAccess.Action.SUMMARY),
        (operator, "attempts:attempt-label", RecordAccess.Action.LABEL),
        (supervisor, "review:timeline", RecordAccess.Action.TIMELINE),
    ]
    for user, name, action in views:
        client.force_login(user)
        before = RecordAccess.objects.count()
        assert client.get(reverse(name, args=[attempt.public_id])).status_code == 200
        assert RecordAccess.objects.count() == before + 1
        entry = RecordAccess.objects.order_by("-pk").first()
        assert (entry.user, entry.action, entry.attempt) == (user, action, attempt)
    client.force_login(supervisor)
    log = client.get(reverse("review:audit")).text
    assert "Opened the timeline" in log
    assert "Opened the label" in log


def test_a_refused_sign_off_shows_the_record_and_logs_it_like_the_timeline(
    client, supervisor
):
    attempt = walk(
        started_attempt(
            episode=EpisodeFactory(patient_reference="MRN 4711"),
            version=reference_version(),
        ),
        to=Stage.AFTERCARE,
    )
    client.force_login(supervisor)
    response = client.post(
        reverse("review:sign-off", args=[attempt.public_id]), {"feedback": ""}
    )
    assert response.status_code == 422
    assert "MRN 4711" in response.text
    entry = RecordAccess.objects.get()
    assert (entry.user, entry.action, entry.attempt) == (
        supervisor,
        RecordAccess.Action.TIMELINE,
        attempt,
    )


def test_the_access_log_cannot_be_changed(client, superuser):
    attempt = started_attempt(version=reference_version())
    entry = RecordAccess.objects.create(
        user=attempt.operator, action=RecordAccess.Action.SUMMARY, attempt=attempt
    )
    entry.query = "edited"
    with pytest.raises(ValidationError):
        entry.save()
    with pytest.raises(ValidationError):
        entry.delete()
    with pytest.raises(ValidationError):
        RecordAccess.objects.update(query="edited")
    # Not in the admin at all, so no admin URL can change it or a sign-off.
    for model in ("recordaccess", "signoff"):
        for app in ("attempts", "review"):
            with pytest.raises(NoReverseMatch):
                reverse(f"admin:{app}_{model}_changelist")
    client.force_login(superuser)
    assert client.post(reverse("review:audit"), {}).status_code == 405


def test_a_clinician_never_reaches_review(client):
    clinician = ClinicianFactory()
    attempt = started_attempt(version=reference_version())
    client.force_login(clinician)
    for url in (HOME, timeline_url(attempt), reverse("review:audit")):
        assert client.get(url).status_code == 403


def test_the_timeline_reads_a_constant_number_of_queries(client, supervisor):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    version = reference_version()
    step = version.steps.filter(section__slug="preparation", kind="check").first()

    def attempt_with(taps):
        attempt = walk(started_attempt(version=version), to=Stage.PREPARATION)
        for index in range(taps):
            attempt.record_event(
                kind=Kind.STEP_CHECKED,
                by=attempt.operator,
                client_token=uuid.uuid4(),
                step=step,
                data={"step": step.pk, "checked": index % 2 == 0},
            )
        return walk(attempt, to=Stage.AFTERCARE)

    few, many = attempt_with(2), attempt_with(45)
    assert many.events.count() >= 50
    client.force_login(supervisor)
    client.get(timeline_url(few))
    counts = []
    for attempt in (few, many):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(timeline_url(attempt)).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def read_hidden(html, name):
    (value,) = re.findall(rf'<input type="hidden" name="{name}" value="([^"]+)"', html)
    return value
