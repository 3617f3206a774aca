"""The site drawings in static/img/sites/: one line drawing per site and population.

A site names its drawing by key, so an editor can give a new site one of these; the alt text
names the landmark the drawing marks, for a screen reader and for a drawing that fails to load.
"""

DRAWINGS = {
    "proximal-humerus-adult": (
        "Proximal humerus, adult",
        "Adult shoulder, hand on the abdomen: the point on the greater tubercle just above "
        "the surgical neck of the humerus.",
    ),
    "proximal-tibia-adult": (
        "Proximal tibia, adult",
        "Adult knee from the front: a zone on the flat inner face of the tibia, below and "
        "medial to the tibial tuberosity.",
    ),
    "distal-tibia-adult": (
        "Distal tibia, adult",
        "Adult ankle, inner side: a zone on the flat inner face of the tibia just above the "
        "medial malleolus.",
    ),
    "proximal-humerus-child": (
        "Proximal humerus, child",
        "Child's shoulder, hand on the abdomen: the point on the greater tubercle above the "
        "surgical neck of the humerus.",
    ),
    "proximal-tibia-child": (
        "Proximal tibia, child",
        "Child's knee from the front: the point one fingerbreadth below the tibial "
        "tuberosity, on the flat inner face, clear of the growth plate.",
    ),
    "distal-tibia-child": (
        "Distal tibia, child",
        "Child's ankle, inner side: the point one finger width above the medial malleolus, "
        "in the flat centre of the tibia.",
    ),
    "distal-femur-child": (
        "Distal femur, child",
        "Child's straight leg from the front: a zone on the lower femur just above the "
        "kneecap; the exact point is per local protocol.",
    ),
}

CHOICES = [(key, label) for key, (label, _alt) in DRAWINGS.items()]


def static_path(key):
    return f"img/sites/{key}.svg"


def alt_text(key):
    return DRAWINGS[key][1] if key in DRAWINGS else ""
