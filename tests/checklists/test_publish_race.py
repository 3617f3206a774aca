"""Two editors approving two versions of one procedure at the same moment: both are answered,
never with a server error; one version ends published, and the other stays in review (its
reviewer's page compared it with the version the first publish retired: publishing it would
undo the first one's changes unseen)."""

import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from checklists.models import ChecklistVersion
from tests.factories import ContentEditorFactory, published_version
from tests.forms import form_data

# Each round is one chance for the two publishes to meet inside each other's transaction.
ROUNDS = 3


def in_review(published):
    draft = published.new_draft(author=ContentEditorFactory())
    draft.submit_for_review(by=draft.author)
    return draft


def publish_at_once(versions):
    """Each version's reviewer presses Publish on its confirmation page at the same moment."""
    barrier = threading.Barrier(len(versions))
    answers = []

    def press(version, client, form):
        try:
            barrier.wait(timeout=10)
            url = reverse(
                "admin:checklists_checklistversion_publish", args=[version.pk]
            )
            answers.append(client.post(url, form).status_code)
        except Exception as error:  # any failure shows in the assertion below
            answers.append(repr(error))
        finally:
            connection.close()

    presses = []
    for version in versions:
        client = Client()
        client.force_login(ContentEditorFactory())
        url = reverse("admin:checklists_checklistversion_publish", args=[version.pk])
        page = client.get(url)
        assert page.status_code == 200
        presses.append((version, client, publish_form(page.text)))
    threads = [threading.Thread(target=press, args=press_) for press_ in presses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return answers


def publish_form(page):
    return form_data(page, "publish-form")


@pytest.mark.usefixtures("migrated_data")
def test_two_editors_publishing_two_versions_at_once_leave_one_published():
    published = published_version()
    for _ in range(ROUNDS):
        first, second = in_review(published), in_review(published)

        answers = publish_at_once([first, second])

        assert answers == [302, 302], answers
        now_published = ChecklistVersion.objects.published().get()
        assert now_published in (first, second)
        for version in (published, first, second):
            version.refresh_from_db()
        assert published.status == ChecklistVersion.Status.RETIRED
        statuses = sorted([first.status, second.status])
        assert statuses == ["in_review", "published"]
        published = now_published
