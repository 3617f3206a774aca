"""The content admin's searches answer any search term an editor can send, however long."""

import pytest
from django.urls import reverse

from tests.factories import SourceFactory

LISTS = [
    "admin:checklists_source_changelist",
    "admin:checklists_procedure_changelist",
    "admin:checklists_checklistversion_changelist",
]
LONG_TERMS = ["x" * 50_000, "x " * 25_000]


@pytest.mark.django_db
@pytest.mark.parametrize("term", LONG_TERMS, ids=["one-word", "many-words"])
@pytest.mark.parametrize("url_name", LISTS)
def test_a_very_long_search_term_gets_a_normal_answer(client, editor, url_name, term):
    client.force_login(editor)

    response = client.get(reverse(url_name), {"q": term})

    assert response.status_code == 200
    assert "Searched for the first 200 characters only" in response.text


@pytest.mark.django_db
def test_a_long_search_finds_what_its_first_characters_name(client, editor):
    source = SourceFactory(citation="A long-titled guideline on intraosseous access")
    other = SourceFactory()
    client.force_login(editor)

    response = client.get(
        reverse("admin:checklists_source_changelist"),
        {"q": source.citation + " " * 50_000 + "ignored"},
    )

    assert response.status_code == 200
    assert f">{source.key}</a>" in response.text
    assert f">{other.key}</a>" not in response.text


@pytest.mark.django_db
def test_the_sources_autocomplete_answers_a_very_long_term(client, editor):
    client.force_login(editor)
    response = client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "checklists",
            "model_name": "step",
            "field_name": "sources",
            "term": "x" * 50_000,
        },
    )
    assert response.status_code == 200
    assert response.json()["results"] == []
