"""Colours and short names for what the dashboard draws.

A model keeps one colour on every page and chart: its family's hue (Opus, Sonnet, Haiku; from
the Okabe–Ito palette, which people with the common colour-vision deficiencies can tell apart)
in a shade of its own per version. ``distinct`` gives the keys of one chart colours that differ
from each other, starting from each key's own colour, so no two series look the same even when
two ids share a version (a dated and an undated id). Projects and users take the categorical
palette in name order. ``short_name`` turns ``claude-sonnet-4-5-20250929`` into ``Sonnet 4.5``.
"""

from __future__ import annotations

import colorsys
import hashlib
import re
from collections.abc import Iterable

# Okabe & Ito (2008), "Color Universal Design": safe for protanopia, deuteranopia, tritanopia.
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")
FAMILY_HUES = {"opus": "#CC79A7", "sonnet": "#0072B2", "haiku": "#009E73"}
OTHER_HUES = ("#E69F00", "#D55E00", "#F0E442")
# lightness of each shade: readable on the dark and on the light background
SHADE_LIGHTNESS = (0.55, 0.72, 0.40, 0.80, 0.32, 0.64, 0.47)
# the versions known today, newest first, each with a shade of its own; others by their digest
KNOWN_VERSIONS = {
    "opus": ("4.6", "4.5", "4.1", "4", "3"),
    "sonnet": ("4.6", "4.5", "4", "3.7", "3.5"),
    "haiku": ("4.5", "3.5", "3"),
}

_NAME = re.compile(
    r"^(?:anthropic[./])?claude-(?:(?P<fam1>opus|sonnet|haiku)-(?P<v1>\d+(?:[-.]\d)?)"
    r"|(?P<v2>\d+(?:[-.]\d)?)-(?P<fam2>opus|sonnet|haiku))(?P<date>-\d{8})?$"
)


def _parts(model: str) -> tuple[str, str, bool] | None:
    """(family, version as "4.5", dated) of a Claude model id, or None."""
    found = _NAME.match(model.strip().lower())
    if not found:
        return None
    family = found["fam1"] or found["fam2"]
    version = (found["v1"] or found["v2"]).replace("-", ".")
    return family, version, bool(found["date"])


def short_name(model: str, dated: bool = False) -> str:
    """``claude-opus-4-6`` → ``Opus 4.6`` (``dated``: ``Opus 4.1 (2025-08-05)`` for an id with
    a date); an id of another kind stays as it is."""
    parts = _parts(model)
    if parts is None:
        return model
    family, version, has_date = parts
    name = f"{family.capitalize()} {version}"
    if dated and has_date:
        day = model.strip()[-8:]
        name += f" ({day[:4]}-{day[4:6]}-{day[6:]})"
    return name


def _with_lightness(colour: str, lightness: float) -> str:
    r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    h, _, s = colorsys.rgb_to_hls(r, g, b)
    rgb = colorsys.hls_to_rgb(h, lightness, min(max(s, 0.45), 0.7))  # never neon
    return "#" + "".join(f"{round(c * 255):02x}" for c in rgb)


def _digest(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def _shades(hue: str) -> list[str]:
    return [_with_lightness(hue, level) for level in SHADE_LIGHTNESS]


def model_colour(model: str) -> str:
    """A model's own colour: its family's hue in its version's shade (a dated and an undated
    id of one version share it); a model of no known family takes a hue by its name."""
    parts = _parts(model)
    if parts is None:
        return _shades(OTHER_HUES[_digest(model) % len(OTHER_HUES)])[0]
    family, version, _ = parts
    known = KNOWN_VERSIONS[family]
    index = known.index(version) if version in known else _digest(version)
    return _shades(FAMILY_HUES[family])[index % len(SHADE_LIGHTNESS)]


def _fallbacks(preferred: str) -> list[str]:
    """Where a taken colour goes next: other shades of its hue, then every other hue's."""
    hues = [preferred, *OKABE_ITO]
    return [shade for hue in hues for shade in _shades(hue)]


def distinct(keys: Iterable[str], own: dict[str, str]) -> dict[str, str]:
    """A colour per key, no two alike: each key its ``own`` colour unless an earlier key (in
    name order, so the answer does not depend on the order given) has it; then the nearest
    colour no key owns, so one clash does not push the others along."""
    taken: set[str] = set()
    owned = {c.lower() for c in own.values()}
    out: dict[str, str] = {}
    for key in sorted(set(keys)):
        colour = own[key].lower()
        if colour in taken:
            spare = [c for c in _fallbacks(colour) if c not in taken]
            colour = next((c for c in spare if c not in owned), spare[0] if spare else colour)
        taken.add(colour)
        out[key] = colour
    return out


def model_colours(models: Iterable[str]) -> dict[str, str]:
    """The colours of the models one chart or page shows: their own, made distinct."""
    models = set(models)
    return distinct(models, {m: model_colour(m) for m in models})


def category_colours(names: Iterable[str]) -> dict[str, str]:
    """Colours for projects or users: the categorical palette in name order, then its shades."""
    ordered = sorted(set(names), key=lambda n: (n.lower(), n))
    pool = [*OKABE_ITO, *(s for hue in OKABE_ITO for s in _shades(hue)[1:])]
    out = {name: pool[n % len(pool)].lower() for n, name in enumerate(ordered)}
    return distinct(ordered, out)
