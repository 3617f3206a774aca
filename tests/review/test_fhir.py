"""FHIR R4 downloads: what an EHR receives for an attempt, checked against the FHIR models (#11).

`fhir.resources`' R4B models check structure (required elements, types, no unknown elements),
not code bindings: the status codes are checked here against R4's value sets.
"""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from attempts.flow import Stage
from review import fhir
from tests.factories import LocationFactory, reference_version
from tests.review.test_exports import (
    SUMMER,
    TO_BONE,
    bay_attempt,
    remove,
    stop,
    transfer,
)

SNOMED = "http://snomed.info/sct"
# clinical-content.md §16: the only codes an export may carry.
ALLOWED_CODES = {
    "430824005",
    "129336009",
    "129303008",
    "12611008",
    "85050009",
    "71341001",
    "419161000",
    "419465000",
}
# R4 value sets: event-status (Procedure) and device-statement-status.
PROCEDURE_STATUSES = {
    "preparation",
    "in-progress",
    "not-done",
    "on-hold",
    "stopped",
    "completed",
    "entered-in-error",
    "unknown",
}
DEVICE_USE_STATUSES = {
    "active",
    "completed",
    "entered-in-error",
    "intended",
    "stopped",
    "on-hold",
}


@pytest.fixture
def signed_in(client, supervisor):
    client.force_login(supervisor)
    return client


def download(client, attempt):
    response = client.get(reverse("review:attempt-fhir", args=[attempt.public_id]))
    assert response.status_code == 200
    return checked(response)


def checked(response):
    """The bundle, after checking it and every resource in it against the R4B models."""
    assert response["Content-Type"] == "application/fhir+json"
    document = json.loads(response.content)
    Bundle.model_validate(document)
    for entry in document["entry"]:
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        assert entry["fullUrl"] == f"urn:uuid:{resource['id']}"
    assert document["type"] == "collection"
    return document


def by_type(document):
    """{resourceType: [resources]} and, for the two Procedures, by their role."""
    found = {}
    for entry in document["entry"]:
        resource = entry["resource"]
        found.setdefault(resource["resourceType"], []).append(resource)
    return found


def procedures(document):
    """(insertion, removal or None) of a one-attempt bundle."""
    found = by_type(document)["Procedure"]
    insertion = [p for p in found if p["code"].get("coding")]
    removal = [p for p in found if not p["code"].get("coding")]
    assert len(insertion) == 1
    assert len(removal) <= 1
    return insertion[0], (removal[0] if removal else None)


def codings(value):
    """Every Coding anywhere in a JSON document."""
    if isinstance(value, dict):
        if "code" in value and "system" in value:
            yield value
        for item in value.values():
            yield from codings(item)
    elif isinstance(value, list):
        for item in value:
            yield from codings(item)


def references(value):
    if isinstance(value, dict):
        if "reference" in value:
            yield value["reference"]
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def at(moment):
    return fhir.moment(moment)


@pytest.fixture
def version(db):
    return reference_version()


@pytest.mark.django_db
def test_a_removed_needle_has_both_procedures_and_a_completed_device_use(
    signed_in, version
):
    attempt = remove(
        bay_attempt(version, patient_reference="MRN 1234"),
        at=SUMMER + timedelta(hours=20),
        complications=["Extravasation"],
        other="Bruising",
    )
    document = download(signed_in, attempt)
    resources = by_type(document)
    insertion, removal = procedures(document)
    (device,) = resources["Device"]
    (use,) = resources["DeviceUseStatement"]
    device_url = f"urn:uuid:{device['id']}"

    assert insertion["status"] == "completed"
    assert insertion["code"]["coding"] == [
        {
            "system": SNOMED,
            "code": "430824005",
            "display": "Intraosseous cannulation (procedure)",
        }
    ]
    assert insertion["identifier"] == [
        {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{attempt.public_id}"}
    ]
    assert insertion["performedDateTime"] == at(SUMMER + TO_BONE)
    assert insertion["performer"] == [
        {"actor": {"display": attempt.operator.get_full_name()}}
    ]
    assert insertion["outcome"] == {"text": "Successful"}
    assert insertion["complication"] == [
        {"text": "Extravasation"},
        {"text": "Bruising"},
    ]
    assert insertion["usedReference"] == [{"reference": device_url}]
    assert insertion["focalDevice"] == [
        {
            "action": {
                "coding": [
                    {
                        "system": SNOMED,
                        "code": "129336009",
                        "display": "Implantation - action",
                    }
                ]
            },
            "manipulated": {"reference": device_url},
        }
    ]

    assert removal["status"] == "completed"
    assert removal["code"] == {"text": "Removal of intraosseous needle"}
    assert removal["performedDateTime"] == at(SUMMER + timedelta(hours=20))
    assert removal["focalDevice"][0]["action"]["coding"][0]["code"] == "129303008"
    assert removal["focalDevice"][0]["manipulated"] == {"reference": device_url}
    assert removal["note"] == [
        {"text": "Site condition after removal: Clean, no swelling"}
    ]

    assert use["status"] == "completed"
    assert use["timingPeriod"] == {
        "start": at(SUMMER + TO_BONE),
        "end": at(SUMMER + timedelta(hours=20)),
    }
    assert use["device"] == {"reference": device_url}
    assert use["derivedFrom"] == [
        {"reference": f"urn:uuid:{insertion['id']}"},
        {"reference": f"urn:uuid:{removal['id']}"},
    ]
    assert device["type"] == {"text": "Intraosseous needle, 25 mm blue"}
    assert device["property"][0] == {
        "type": {"text": "Length"},
        "valueQuantity": [{"value": 25, "unit": "mm"}],
    }
    for resource in (insertion, removal, use):
        assert resource["subject"] == {
            "identifier": {"value": "MRN 1234"},
            "display": "MRN 1234",
        }


@pytest.mark.django_db
def test_a_transferred_needle_was_inserted_where_it_was_made_and_removed_where_it_went(
    signed_in, version
):
    resus, icu = LocationFactory(name="Resus 1"), LocationFactory(name="ICU")
    attempt = transfer(
        bay_attempt(version, location=resus), icu, at=SUMMER + timedelta(hours=2)
    )
    remove(attempt, at=SUMMER + timedelta(hours=5))
    insertion, removal = procedures(download(signed_in, attempt))
    assert insertion["location"] == {"display": "Resus 1"}
    assert removal["location"] == {"display": "ICU"}


def test_a_needle_in_place_is_an_active_device_use_without_an_end(signed_in, version):
    attempt = bay_attempt(version, side="right")
    document = download(signed_in, attempt)
    insertion, removal = procedures(document)
    (use,) = by_type(document)["DeviceUseStatement"]
    assert removal is None
    assert insertion["status"] == "completed"
    assert "complication" not in insertion
    assert use["status"] == "active"
    assert use["timingPeriod"] == {"start": at(SUMMER + TO_BONE)}
    assert use["bodySite"]["text"] == "Proximal tibia, right"


@pytest.mark.django_db
def test_body_site_codes_the_bone_and_says_site_and_side_in_text(signed_in, version):
    humerus = bay_attempt(version, site="proximal-humerus-adult", side="left")
    tibia = bay_attempt(version, site="distal-tibia-adult", side="right")
    (insertion, _) = procedures(download(signed_in, humerus))
    assert insertion["bodySite"] == [
        {
            "text": "Proximal humerus, left",
            "coding": [
                {
                    "system": SNOMED,
                    "code": "85050009",
                    "display": "Bone structure of humerus",
                }
            ],
        }
    ]
    (insertion, _) = procedures(download(signed_in, tibia))
    assert insertion["bodySite"][0]["text"] == "Distal tibia, right"
    assert insertion["bodySite"][0]["coding"][0]["code"] == "12611008"


@pytest.mark.django_db
def test_a_childs_distal_femur_is_coded_as_the_femur(signed_in, version):
    attempt = bay_attempt(
        version,
        age_group="child",
        weight_kg=18,
        site="distal-femur-child",
        needle="pink-15mm",
    )
    document = download(signed_in, attempt)
    (use,) = by_type(document)["DeviceUseStatement"]
    assert use["bodySite"] == {
        "text": "Distal femur, left",
        "coding": [
            {"system": SNOMED, "code": "71341001", "display": "Bone structure of femur"}
        ],
    }
    (device,) = by_type(document)["Device"]
    assert device["type"] == {"text": "Intraosseous needle, 15 mm pink"}


@pytest.mark.django_db
def test_a_failed_attempt_is_a_stopped_procedure_with_its_outcome_and_reason(
    signed_in, version
):
    attempt = stop(bay_attempt(version, to=Stage.CONFIRMATION), "failed", "No flow")
    document = download(signed_in, attempt)
    insertion, removal = procedures(document)
    assert insertion["status"] == "stopped"
    assert insertion["outcome"] == {"text": "Failed"}
    assert insertion["statusReason"] == {"text": "No flow"}
    assert removal is None
    # The needle went into bone: the device and its implantation are on record, but it was
    # never in use as an access, so there is no device use.
    assert "DeviceUseStatement" not in by_type(document)
    assert len(by_type(document)["Device"]) == 1


@pytest.mark.django_db
def test_an_attempt_abandoned_before_the_needle_has_no_device(signed_in, version):
    attempt = stop(bay_attempt(version, to=Stage.INSERTION), "abandoned")
    document = download(signed_in, attempt)
    (insertion,) = by_type(document)["Procedure"]
    assert set(by_type(document)) == {"Procedure"}
    assert insertion["status"] == "stopped"
    assert insertion["outcome"] == {"text": "Abandoned"}
    assert insertion["performedDateTime"] == at(SUMMER)
    assert "statusReason" not in insertion
    assert "focalDevice" not in insertion
    assert "usedReference" not in insertion


@pytest.mark.django_db
def test_an_attempt_in_progress_is_in_progress_from_its_start(signed_in, version):
    attempt = bay_attempt(version, to=Stage.INDICATION)
    document = download(signed_in, attempt)
    (insertion,) = by_type(document)["Procedure"]
    assert insertion["status"] == "in-progress"
    assert insertion["performedDateTime"] == at(SUMMER)
    assert "outcome" not in insertion
    assert "bodySite" not in insertion


@pytest.mark.django_db
def test_a_needle_in_bone_not_yet_confirmed_is_already_in_use(signed_in, version):
    attempt = bay_attempt(version, to=Stage.CONFIRMATION)
    document = download(signed_in, attempt)
    insertion, _ = procedures(document)
    (use,) = by_type(document)["DeviceUseStatement"]
    assert insertion["status"] == "in-progress"
    assert insertion["performedDateTime"] == at(SUMMER + TO_BONE)
    assert use["status"] == "active"


@pytest.mark.django_db
def test_a_patient_without_a_reference_is_unidentified_not_invented(signed_in, version):
    attempt = bay_attempt(version)
    document = download(signed_in, attempt)
    subjects = [
        entry["resource"].get("subject") or entry["resource"].get("patient")
        for entry in document["entry"]
    ]
    assert subjects == [{"display": "Unidentified patient"}] * len(subjects)
    assert "Patient" not in by_type(document)


@pytest.mark.django_db
def test_every_code_is_one_of_the_verified_ones(signed_in, version):
    remove(bay_attempt(version), at=SUMMER + timedelta(hours=2))
    stop(bay_attempt(version, to=Stage.CONFIRMATION), "failed", "No flow")
    bay_attempt(version, site="proximal-humerus-adult", side="right")
    document = checked(signed_in.get(reverse("review:list-fhir")))
    found = list(codings(document))
    assert found
    for coding in found:
        assert coding["system"] == SNOMED
        assert coding["code"] in ALLOWED_CODES
    resources = by_type(document)
    assert {p["status"] for p in resources["Procedure"]} <= PROCEDURE_STATUSES
    assert {u["status"] for u in resources["DeviceUseStatement"]} <= (
        DEVICE_USE_STATUSES
    )


@pytest.mark.django_db
def test_references_point_inside_the_bundle_and_ids_are_stable(signed_in, version):
    attempt = remove(bay_attempt(version), at=SUMMER + timedelta(hours=2))
    first = download(signed_in, attempt)
    again = download(signed_in, attempt)
    urls = [entry["fullUrl"] for entry in first["entry"]]
    assert urls == [entry["fullUrl"] for entry in again["entry"]]
    assert len(set(urls)) == len(urls) == 4
    assert set(references(first)) <= set(urls)


@pytest.mark.django_db
def test_list_bundle_holds_the_filtered_attempts_and_says_how_many(signed_in, version):
    resus, icu = LocationFactory(name="Resus 1"), LocationFactory(name="ICU")
    bay_attempt(version, location=resus)
    kept = [
        bay_attempt(version, location=icu, start=SUMMER + timedelta(hours=hour))
        for hour in (1, 2, 3)
    ]
    response = signed_in.get(reverse("review:list-fhir") + f"?location={icu.pk}")
    document = checked(response)
    assert document["meta"]["tag"] == [{"display": "3 attempts"}]
    identifiers = {
        resource["identifier"][0]["value"]
        for resource in by_type(document)["Procedure"]
        if "identifier" in resource
    }
    assert identifiers == {f"urn:uuid:{attempt.public_id}" for attempt in kept}
    assert {
        resource["location"]["display"] for resource in by_type(document)["Procedure"]
    } == {"ICU"}
    assert response["Content-Disposition"].endswith('-3-records.fhir.json"')


@pytest.mark.django_db
def test_one_attempts_bundle_says_one_attempt(signed_in, version):
    document = download(signed_in, bay_attempt(version, to=Stage.INDICATION))
    assert document["meta"]["tag"] == [{"display": "1 attempt"}]
