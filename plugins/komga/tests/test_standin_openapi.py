"""The stand-in's JSON answers validate against Komga 1.26.3's own OpenAPI document (../shared).

The document is OpenAPI 3.1 (JSON Schema 2020-12); ``#/components/schemas/…`` references
resolve over the whole document. springdoc marks Kotlin nullable properties only by
leaving them out of ``required`` (no ``"type": [..., "null"]``), and Komga serialises them
as ``null`` (``readProgress``, ``releaseDate``, ``ageRating``, ``totalBookCount``…). So
each *optional* property also accepts ``null``; required properties are untouched, so a
missing or null required field still fails.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from komga_standin.archives import make_cbz
from komga_standin.standin import KomgaStandIn

ADMIN = ("admin@example.org", "admin-pass")
READER = ("reader@example.org", "reader-pass")
DOCUMENT_URI = "urn:komga:openapi"
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _optional_properties_nullable(node: Any) -> Any:
    if isinstance(node, dict):
        node = {key: _optional_properties_nullable(value) for key, value in node.items()}
        properties = node.get("properties")
        if isinstance(properties, dict):
            required = set(node.get("required", []))
            node["properties"] = {
                name: schema if name in required else {"anyOf": [schema, {"type": "null"}]}
                for name, schema in properties.items()
            }
        return node
    if isinstance(node, list):
        return [_optional_properties_nullable(item) for item in node]
    return node


@pytest.fixture(scope="module")
def openapi(shared_dir: Path) -> dict:
    path = shared_dir / "reference" / "komga" / "openapi.json"
    if not path.is_file():
        pytest.fail(f"{path} is missing from ../shared")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validate(openapi: dict):
    assert openapi["openapi"].startswith("3.1"), "the schemas are read as JSON Schema 2020-12"
    document = _optional_properties_nullable(copy.deepcopy(openapi))
    registry = Registry().with_resource(DOCUMENT_URI, Resource(contents=document, specification=DRAFT202012))
    checker = jsonschema.FormatChecker()
    checker.checks("date-time")(lambda value: not isinstance(value, str) or bool(DATE_TIME.match(value)))
    checker.checks("date")(lambda value: not isinstance(value, str) or bool(DATE.match(value)))
    checker.checks("int32")(lambda value: not isinstance(value, int) or -(2**31) <= value < 2**31)
    checker.checks("int64")(lambda value: not isinstance(value, int) or -(2**63) <= value < 2**63)

    def check(instance: Any, name: str, *, array: bool = False) -> None:
        assert name in openapi["components"]["schemas"], name
        reference = {"$ref": f"{DOCUMENT_URI}#/components/schemas/{name}"}
        schema = {"type": "array", "items": reference} if array else reference
        jsonschema.Draft202012Validator(schema, registry=registry, format_checker=checker).validate(instance)

    return check


@pytest.fixture(scope="module")
def komga(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("openapi") / "bd"
    make_cbz(
        folder / "Thorgal" / "Thorgal 01.cbz",
        comicinfo={
            "Title": "La Magicienne trahie",
            "Series": "Thorgal",
            "Number": "1",
            "Writer": "Jean Van Hamme",
            "Tags": "Viking",
            "Year": 1980,
            "GTIN": "9782800123455",
            "Publisher": "Le Lombard",
            "Genre": "Fantasy",
            "Web": "https://www.bedetheque.com/BD-Thorgal-Tome-1-1.html",
        },
    )
    make_cbz(folder / "Thorgal" / "Thorgal 02.cbz")
    with KomgaStandIn(heartbeat_seconds=1, task_status_seconds=1, analysis_seconds=0) as server:
        library_id = server.add_library("BD", folder=folder, server_root="/data/bd")
        server.scan(library_id)  # analysed later, so the first answers show unanalysed books
        yield server


def get(komga: KomgaStandIn, path: str, auth=ADMIN) -> Any:
    response = requests.get(komga.url + path, auth=auth, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_users_me(komga, validate):
    for auth in (ADMIN, READER):
        validate(get(komga, "/api/v2/users/me", auth), "UserDto")


def test_libraries(komga, validate):
    libraries = get(komga, "/api/v1/libraries")
    assert isinstance(libraries, list) and libraries
    validate(libraries, "LibraryDto", array=True)
    validate(get(komga, "/api/v1/libraries", READER), "LibraryDto", array=True)
    validate(get(komga, f"/api/v1/libraries/{libraries[0]['id']}"), "LibraryDto")


def test_books_before_and_after_analysis(komga, validate):
    book_ids = komga.book_ids()
    for book_id in book_ids:
        validate(get(komga, f"/api/v1/books/{book_id}"), "BookDto")
    assert komga.wait_idle(10)
    for book_id in book_ids:
        validate(get(komga, f"/api/v1/books/{book_id}"), "BookDto")
        validate(get(komga, f"/api/v1/books/{book_id}", READER), "BookDto")
    analysed = get(komga, f"/api/v1/books/{book_ids[0]}")
    assert analysed["metadata"]["links"] and analysed["metadata"]["isbn"]  # the optional parts are exercised too


def test_book_pages(komga, validate):
    body = {
        "condition": {"allOf": [{"libraryId": {"operator": "is", "value": get(komga, "/api/v1/libraries")[0]["id"]}}]}
    }
    for query in ("?page=0&size=1&sort=createdDate,desc", "?size=2000", "?page=5"):
        response = requests.post(komga.url + "/api/v1/books/list" + query, json=body, auth=ADMIN, timeout=10)
        assert response.status_code == 200
        validate(response.json(), "PageBookDto")
    validate(get(komga, "/api/v1/books/latest?size=1"), "PageBookDto")
    validate(get(komga, "/api/v1/books/latest", READER), "PageBookDto")


def test_series(komga, validate):
    series_id = komga.book(komga.book_ids()[0])["seriesId"]
    validate(get(komga, f"/api/v1/series/{series_id}"), "SeriesDto")
    validate(get(komga, f"/api/v1/series/{series_id}", READER), "SeriesDto")
    validate(get(komga, f"/api/v1/series/{series_id}/books"), "PageBookDto")


def test_after_patches_with_nulls(komga, validate):
    book_id = komga.book_ids()[0]
    book_patch = {
        "summary": None,
        "releaseDate": None,
        "authors": None,
        "tags": None,
        "isbn": None,
        "links": None,
        "title": "Titre",
        "number": "1",
        "numberSort": 1.0,
        "titleLock": True,
    }
    validate(book_patch, "BookMetadataUpdateDto")
    assert (
        requests.patch(
            f"{komga.url}/api/v1/books/{book_id}/metadata", json=book_patch, auth=ADMIN, timeout=10
        ).status_code
        == 204
    )
    validate(get(komga, f"/api/v1/books/{book_id}"), "BookDto")
    series_id = komga.book(book_id)["seriesId"]
    series_patch = {
        "genres": ["Fantasy"],
        "publisher": "Le Lombard",
        "language": "fr",
        "totalBookCount": 38,
        "status": "ONGOING",
        "ageRating": None,
        "readingDirection": None,
        "summary": "S",
    }
    validate(series_patch, "SeriesMetadataUpdateDto")
    assert (
        requests.patch(
            f"{komga.url}/api/v1/series/{series_id}/metadata", json=series_patch, auth=ADMIN, timeout=10
        ).status_code
        == 204
    )
    validate(get(komga, f"/api/v1/series/{series_id}"), "SeriesDto")


def test_validation_error_body(komga, validate):
    book_id = komga.book_ids()[0]
    response = requests.patch(
        f"{komga.url}/api/v1/books/{book_id}/metadata", json={"isbn": "9782800123454"}, auth=ADMIN, timeout=10
    )
    assert response.status_code == 400
    validate(response.json(), "ValidationErrorResponse")
    assert response.json()["violations"][0]["fieldName"] == "isbn"


def test_the_schemas_have_teeth(komga, validate):
    """A missing or null required field, or a wrong type, fails validation."""
    book = get(komga, f"/api/v1/books/{komga.book_ids()[0]}")
    for mutate in (
        lambda b: b.pop("fileHash"),
        lambda b: b["metadata"].pop("titleLock"),
        lambda b: b.update(url=None),
        lambda b: b["media"].update(pagesCount="3"),
        lambda b: b.update(created="2024-01-01 10:00"),
        lambda b: b["metadata"].update(tags=["a", "a"]),
    ):
        broken = copy.deepcopy(book)
        mutate(broken)
        with pytest.raises(jsonschema.ValidationError):
            validate(broken, "BookDto")
    page = get(komga, "/api/v1/books/latest")
    page["content"][0].pop("seriesId")
    with pytest.raises(jsonschema.ValidationError):
        validate(page, "PageBookDto")
    user = get(komga, "/api/v2/users/me")
    user.pop("sharedLibrariesIds")
    with pytest.raises(jsonschema.ValidationError):
        validate(user, "UserDto")
