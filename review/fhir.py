"""FHIR R4 resources for logged attempts, so the record can reach an EHR (design §6).

Per attempt, in a Bundle of type "collection":
- a `Procedure` for the insertion: SNOMED CT 430824005 "Intraosseous cannulation" [S52];
  status completed (success), stopped (failed, abandoned) or in-progress; performed at the
  needle-in-bone time, else the start; the outcome, the failure reason and the complications
  recorded at removal as text;
- a `Procedure` for the removal, once removed: text only, since no SNOMED CT concept for removing
  an IO needle was verified; its focal device action is 129303008 "Removal - action" [S53];
- a `Device` for the needle and, while the needle is or was in use (a success, or an attempt in
  progress with the needle in bone), a `DeviceUseStatement` with its timing period (start: needle
  in bone; end: removal, absent while in place).

Locations: the insertion is where the attempt was made (its episode's location); the removal is
where the needle came out, i.e. after any transfer (`Attempt.location`). R4's DeviceUseStatement
has no location element, so it carries none.

A needle that never went into bone (the attempt stopped before) is no device of the patient's:
no Device, no device use, no focal device. The two Procedures are tied through their focal
device (the same Device); `partOf` is not used, since the removal is not a step of the
insertion. The DeviceUseStatement is `derivedFrom` both Procedures.

Codes come only from clinical-content §16, with the SNOMED CT system; everything else is text.
Procedure.bodySite carries the bone's SNOMED CT code and, in its text, the exact site and side
("Proximal tibia, left"): R4 has no element on Procedure or DeviceUseStatement for laterality
(a second coding in the same CodeableConcept would claim to mean the same thing), so the side
stays in the text and the laterality codes of §16 are not used.

The patient is a Reference by identifier (the episode's patient reference, with no system: it
may be an MRN or a trauma alias), or the display "Unidentified patient"; no Patient resource is
made up. Every resource's id is a UUID derived from the attempt's public id (uuid5), so the same
attempt exported twice gives the same ids; entries refer to each other by "urn:uuid:" fullUrls.

A Bundle states how many attempts it holds in `meta.tag` (display "3 attempts"):
`Bundle.total` is only for search results.
"""

import uuid

from django.utils import timezone

from attempts.models import Attempt, AttemptEvent
from checklists.models import Site

SNOMED = "http://snomed.info/sct"
# [S52] NEMSIS v3 suggested procedures: "IO cannulation".
IO_CANNULATION = {
    "system": SNOMED,
    "code": "430824005",
    "display": "Intraosseous cannulation (procedure)",
}
# [S53] FHIR device-action value set.
IMPLANTATION = {
    "system": SNOMED,
    "code": "129336009",
    "display": "Implantation - action",
}
REMOVAL = {"system": SNOMED, "code": "129303008", "display": "Removal - action"}
# [S53] Whole bones only: no concept for the proximal or distal part was verified.
BONES = {
    Site.Bone.TIBIA: {
        "system": SNOMED,
        "code": "12611008",
        "display": "Bone structure of tibia",
    },
    Site.Bone.HUMERUS: {
        "system": SNOMED,
        "code": "85050009",
        "display": "Bone structure of humerus",
    },
    Site.Bone.FEMUR: {
        "system": SNOMED,
        "code": "71341001",
        "display": "Bone structure of femur",
    },
}
REMOVAL_TEXT = "Removal of intraosseous needle"
UNIDENTIFIED = "Unidentified patient"
# RFC 3986: the identifier system FHIR defines for a value that is a URI (here urn:uuid:…).
URI_SYSTEM = "urn:ietf:rfc:3986"

Outcome = Attempt.Outcome
PROCEDURE_STATUS = {
    Outcome.IN_PROGRESS: "in-progress",
    Outcome.SUCCESS: "completed",
    Outcome.FAILED: "stopped",
    Outcome.ABANDONED: "stopped",
}
OUTCOME_TEXT = {
    Outcome.SUCCESS: "Successful",
    Outcome.FAILED: "Failed",
    Outcome.ABANDONED: "Abandoned",
}
# What the Procedures read besides the attempt row: one query for any number of attempts.
CLOSING_KINDS = (AttemptEvent.Kind.OUTCOME_RECORDED, AttemptEvent.Kind.REMOVED)


def for_export(attempts):
    """`attempts` with everything the resources read joined in (one query)."""
    return attempts.select_related(
        "episode__location", "location", "operator", "site", "needle"
    )


def closing_events(attempt_pks):
    """{attempt pk: {kind: event}} for the outcome and removal events (one query)."""
    found = {}
    events = AttemptEvent.objects.filter(
        attempt_id__in=attempt_pks, kind__in=CLOSING_KINDS
    ).select_related("recorded_by")
    for event in events:
        found.setdefault(event.attempt_id, {})[event.kind] = event
    return found


def bundle(attempts, *, now):
    """A collection Bundle of every resource of `attempts` (two queries: attempts, events)."""
    attempts = list(attempts)
    events = closing_events([attempt.pk for attempt in attempts])
    entries = []
    for attempt in attempts:
        for resource in resources(attempt, events.get(attempt.pk, {})):
            entries.append({"fullUrl": urn(resource["id"]), "resource": resource})
    count = len(attempts)
    return {
        "resourceType": "Bundle",
        "meta": {"tag": [{"display": f"{count} attempt{'' if count == 1 else 's'}"}]},
        "type": "collection",
        "timestamp": moment(now),
        "entry": entries,
    }


def resources(attempt, events):
    """The attempt's resources, insertion first; `events` maps kind → its closing event."""
    ids = ResourceIds(attempt.public_id)
    removal = events.get(AttemptEvent.Kind.REMOVED)
    outcome = events.get(AttemptEvent.Kind.OUTCOME_RECORDED)
    has_device = attempt.inserted_at is not None and attempt.needle_id is not None
    found = [
        insertion(attempt, ids, outcome=outcome, removal=removal, has_device=has_device)
    ]
    if attempt.removed_at is not None:
        found.append(removal_procedure(attempt, ids, removal=removal))
    if has_device:
        found.append(device(attempt, ids))
        if attempt.outcome in (Outcome.SUCCESS, Outcome.IN_PROGRESS):
            found.append(device_use(attempt, ids))
    return found


class ResourceIds:
    """Stable ids for one attempt's resources: the same attempt always gives the same ids."""

    def __init__(self, public_id):
        self.insertion = str(uuid.uuid5(public_id, "procedure-insertion"))
        self.removal = str(uuid.uuid5(public_id, "procedure-removal"))
        self.device = str(uuid.uuid5(public_id, "device"))
        self.device_use = str(uuid.uuid5(public_id, "device-use-statement"))


def urn(resource_id):
    return f"urn:uuid:{resource_id}"


def moment(value):
    """A FHIR dateTime: ISO 8601 in the hospital's zone, with its offset."""
    return timezone.localtime(value).isoformat()


def subject(attempt):
    """The patient by the episode's reference, or a display saying there is none."""
    reference = attempt.episode.patient_reference.strip()
    if not reference:
        return {"display": UNIDENTIFIED}
    return {"identifier": {"value": reference}, "display": reference}


def person(user):
    return {"display": user.get_full_name() or user.get_username()}


def body_site(attempt):
    """The bone's code, with the exact site and side in words ("Proximal tibia, left")."""
    text = attempt.site.name
    if attempt.side:
        text = f"{text}, {attempt.get_side_display().lower()}"
    concept = {"text": text}
    if attempt.site.bone in BONES:
        concept["coding"] = [BONES[attempt.site.bone]]
    return concept


def needle_name(attempt):
    return f"Intraosseous needle, {attempt.needle}"


def _reference(resource_id):
    return {"reference": urn(resource_id)}


def insertion(attempt, ids, *, outcome, removal, has_device):
    """The insertion Procedure."""
    resource = {
        "resourceType": "Procedure",
        "id": ids.insertion,
        "identifier": [{"system": URI_SYSTEM, "value": urn(attempt.public_id)}],
        "status": PROCEDURE_STATUS[attempt.outcome],
        "code": {"coding": [IO_CANNULATION], "text": "Intraosseous cannulation"},
        "subject": subject(attempt),
        "performedDateTime": moment(attempt.inserted_at or attempt.started_at),
        "performer": [{"actor": person(attempt.operator)}],
        # Where it was made: a transfer moves `Attempt.location`, not the insertion.
        "location": {"display": attempt.episode.location.name},
    }
    reason = str((outcome.data if outcome else {}).get("reason") or "").strip()
    if reason and attempt.outcome != Outcome.SUCCESS:
        resource["statusReason"] = {"text": reason}
    if attempt.site_id:
        resource["bodySite"] = [body_site(attempt)]
    if attempt.outcome in OUTCOME_TEXT:
        resource["outcome"] = {"text": OUTCOME_TEXT[attempt.outcome]}
    if complications := _complications(removal):
        resource["complication"] = [{"text": text} for text in complications]
    if has_device:
        resource["focalDevice"] = [
            {
                "action": {"coding": [IMPLANTATION]},
                "manipulated": _reference(ids.device),
            }
        ]
        resource["usedReference"] = [_reference(ids.device)]
    return resource


def _complications(removal):
    if removal is None:
        return []
    found = [str(text) for text in removal.data.get("complications") or []]
    if other := str(removal.data.get("other_complication") or "").strip():
        found.append(other)
    return [text for text in found if text.strip()]


def removal_procedure(attempt, ids, *, removal):
    """The removal Procedure: text only, tied to the insertion by the same focal device."""
    resource = {
        "resourceType": "Procedure",
        "id": ids.removal,
        "status": "completed",
        "code": {"text": REMOVAL_TEXT},
        "subject": subject(attempt),
        "performedDateTime": moment(attempt.removed_at),
        # Where the needle was when it came out: the last transfer's destination, if any.
        "location": {"display": attempt.location.name},
    }
    if removal is not None and removal.recorded_by_id:
        resource["performer"] = [{"actor": person(removal.recorded_by)}]
    if attempt.site_id:
        resource["bodySite"] = [body_site(attempt)]
    if attempt.needle_id:
        resource["focalDevice"] = [
            {"action": {"coding": [REMOVAL]}, "manipulated": _reference(ids.device)}
        ]
    condition = str((removal.data if removal else {}).get("condition") or "").strip()
    if condition:
        resource["note"] = [{"text": f"Site condition after removal: {condition}"}]
    return resource


def device(attempt, ids):
    """The needle: its name and length in words and numbers; no device code was verified."""
    needle = attempt.needle
    return {
        "resourceType": "Device",
        "id": ids.device,
        "type": {"text": needle_name(attempt)},
        "deviceName": [{"name": needle_name(attempt), "type": "user-friendly-name"}],
        "property": [
            {
                "type": {"text": "Length"},
                "valueQuantity": [{"value": needle.length_mm, "unit": "mm"}],
            },
            {
                "type": {"text": "Hub colour"},
                "valueCode": [{"text": needle.hub_colour}],
            },
        ],
        "patient": subject(attempt),
    }


def device_use(attempt, ids):
    """The needle's time in bone: active while in place, completed once removed."""
    period = {"start": moment(attempt.inserted_at)}
    derived = [_reference(ids.insertion)]
    if attempt.removed_at is not None:
        period["end"] = moment(attempt.removed_at)
        derived.append(_reference(ids.removal))
    resource = {
        "resourceType": "DeviceUseStatement",
        "id": ids.device_use,
        "status": "completed" if attempt.removed_at is not None else "active",
        "subject": subject(attempt),
        "derivedFrom": derived,
        "timingPeriod": period,
        "device": _reference(ids.device),
    }
    if attempt.site_id:
        resource["bodySite"] = body_site(attempt)
    return resource
