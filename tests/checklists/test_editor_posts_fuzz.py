"""Any POST to the editor's workflow and part pages: never a server error, and a refused
request publishes nothing, makes no version and changes no content."""

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checklists.models import ChecklistVersion, Step
from tests.factories import ContentEditorFactory, reference_version

FIELDS = st.sampled_from(
    [
        "change_summary",
        "_submit_for_review",
        "_continue",
        "steps-TOTAL_FORMS",
        "steps-0-position",
        "steps-0-text",
        "steps-0-id",
        "needle_sizes-TOTAL_FORMS",
        "needle_sizes-0-min_weight_kg",
        "status",
        "author",
    ]
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    data=st.dictionaries(FIELDS, st.text(max_size=20)),
    target=st.sampled_from(
        [
            "publish",
            "submit",
            "return_to_draft",
            "new_draft",
            "part-needle-sizes",
            "part-bogus",
        ]
    ),
)
@pytest.mark.django_db
def test_any_editor_post_is_answered_without_an_error(client, data, target):
    published = reference_version()
    author = ContentEditorFactory()
    draft = published.new_draft(author=author)
    steps_before = list(
        Step.objects.order_by("pk").values_list("pk", "text", "position")
    )
    versions = ChecklistVersion.objects.count()
    client.force_login(author)
    if target.startswith("part-"):
        url = reverse(
            "admin:checklists_checklistversion_part",
            kwargs={"pk": published.pk, "part": target.removeprefix("part-")},
        )
    else:
        url = reverse(f"admin:checklists_checklistversion_{target}", args=[draft.pk])
    response = client.post(url, data)
    assert response.status_code < 500
    # The author can never publish, and a published version's content never changes.
    assert ChecklistVersion.objects.published().get() == published
    # Nothing here makes a version: a new draft comes only from a published one.
    assert ChecklistVersion.objects.count() == versions
    after = list(
        Step.objects.filter(version=published)
        .order_by("pk")
        .values_list("pk", "text", "position")
    )
    assert after == [
        row for row in steps_before if row[0] in {pk for pk, _, _ in after}
    ]
