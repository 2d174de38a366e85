"""What the adapter sends to Komga validates against Komga's OpenAPI request schemas."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bdnex_komga.source import book_condition
from bdnex_komga.writeback import desired_book_metadata, desired_series_metadata, plan_patch

FIELDS = {
    "Title": "Redwin de la Forge",
    "Number": "1",
    "Summary": "Résumé",
    "Year": "2015",
    "Month": "6",
    "Day": "3",
    "Writer": "Nicolas Jarry",
    "Penciller": "Pierre-Denis Goux",
    "Colorist": "Digikore Studios",
    "CoverArtist": "Pierre-Denis Goux",
    "Tags": "Nains",
    "GTIN": "9782302046443",
    "Web": "https://www.bedetheque.com/BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html",
    "Publisher": "Soleil",
    "Genre": "Heroic Fantasy",
    "LanguageISO": "fr",
    "Count": "19",
}


@pytest.fixture(scope="module")
def validator_for() -> Any:
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    from bdnex_testing.pytest_plugin import SHARED_DIR, skip_or_fail

    path = SHARED_DIR / "reference" / "komga" / "openapi.json"
    if not path.is_file():
        skip_or_fail(f"{path} does not exist", required_by="BDNEX_REQUIRE_SHARED")
    document = _with_discriminators(json.loads(path.read_text(encoding="utf-8")))
    registry = Registry().with_resource("urn:komga", Resource(document, specification=DRAFT202012))

    def validator(name: str) -> Any:
        assert name in document["components"]["schemas"], name
        schema = {"$id": "urn:komga:check", "$ref": f"urn:komga#/components/schemas/{name}"}
        return jsonschema.Draft202012Validator(schema, registry=registry)

    return validator


def _with_discriminators(node: Any) -> Any:
    """OpenAPI's ``discriminator`` picks one ``oneOf`` branch by a property; plain JSON Schema would try them
    all (and the search operators' branches overlap), so each mapping becomes an if/then."""
    if isinstance(node, list):
        return [_with_discriminators(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _with_discriminators(value) for key, value in node.items()}
    discriminator = node.get("discriminator")
    if discriminator and discriminator.get("mapping") and "oneOf" in node:
        prop, mapping = discriminator["propertyName"], discriminator["mapping"]
        node.pop("oneOf")
        node["required"] = sorted(set(node.get("required", [])) | {prop})
        node.setdefault("properties", {})[prop] = {"enum": sorted(mapping)}
        node["allOf"] = [
            {"if": {"properties": {prop: {"const": key}}}, "then": {"$ref": target}} for key, target in mapping.items()
        ]
    return node


def test_book_patch_body(validator_for: Any) -> None:
    body, _, _ = plan_patch(desired_book_metadata(FIELDS, {}), {}, force=False, lock=True)
    assert {"title", "number", "numberSort", "releaseDate", "authors", "tags", "isbn", "links"} <= set(body)
    validator = validator_for("BookMetadataUpdateDto")
    validator.validate(body)
    assert not validator.is_valid({**body, "numberSort": "1"})  # the check has teeth
    assert not validator.is_valid({**body, "authors": [{"role": "writer"}]})


def test_series_patch_body(validator_for: Any) -> None:
    series = {
        "publisher": "Soleil",
        "genres": ["Heroic Fantasy"],
        "summary": "Les nains des Terres d'Arran.",
        "normal_status": "ongoing",
        "tome_count": 25,
    }
    body, _, _ = plan_patch(desired_series_metadata(FIELDS, {}, series), {}, force=False, lock=True)
    assert {"publisher", "genres", "language", "totalBookCount", "summary", "status", "publisherLock"} <= set(body)
    validator_for("SeriesMetadataUpdateDto").validate(body)
    without_record, _, _ = plan_patch(desired_series_metadata(FIELDS, {}), {}, force=False, lock=True)
    validator_for("SeriesMetadataUpdateDto").validate(without_record)


@pytest.mark.parametrize(
    ("kind", "value", "statuses"),
    [
        ("library", "L1", ()),
        ("series", "S1", ("READY",)),
        ("library", "L1", ("READY", "OUTDATED")),
        ("all", "", ("READY",)),
    ],
)
def test_book_search_body(validator_for: Any, kind: str, value: str, statuses: tuple[str, ...]) -> None:
    condition = book_condition(kind, value, statuses)
    validator = validator_for("BookSearch")
    validator.validate({"condition": condition} if condition else {})
    assert not validator.is_valid({"condition": {"libraryId": {"operator": "is"}}})
