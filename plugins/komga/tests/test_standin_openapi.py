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


def test_every_route_is_in_the_openapi_document(openapi):
    """The stand-in serves only endpoints Komga documents, with the documented methods."""
    from komga_standin.handler import ROUTES

    documented = {
        (method.upper(), re.sub(r"\{[^}]+\}", "{}", path))
        for path, operations in openapi["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }
    undocumented = {("GET", "/sse/v1/events")}  # Komga's event stream is not in its OpenAPI description
    for method, pattern, _ in ROUTES:
        template = pattern.pattern.replace("([^/]+)", "{}")
        assert (method, template) in documented | undocumented, (method, template)
    assert ("POST", "/api/v1/series/{}/thumbnails") in {(m, p.pattern.replace("([^/]+)", "{}")) for m, p, _ in ROUTES}


def test_series_posters(komga, validate, openapi):
    from bdnex_core.demo.samplelib import page_jpeg

    upload = openapi["paths"]["/api/v1/series/{seriesId}/thumbnails"]["post"]
    assert "file" in upload["requestBody"]["content"]["multipart/form-data"]["schema"]["required"]
    series_id = komga.book(komga.book_ids()[0])["seriesId"]
    url = f"{komga.url}/api/v1/series/{series_id}/thumbnails"
    validate(get(komga, f"/api/v1/series/{series_id}/thumbnails"), "ThumbnailSeriesDto", array=True)
    image = page_jpeg("poster", size=(60, 80), seed=1)
    response = requests.post(url, files={"file": ("poster.jpg", image, "image/jpeg")}, auth=ADMIN, timeout=10)
    assert response.status_code == 200, response.text
    first = response.json()
    validate(first, "ThumbnailSeriesDto")
    assert first["type"] == "USER_UPLOADED" and first["selected"] and (first["width"], first["height"]) == (60, 80)
    second = requests.post(
        url, params={"selected": "false"}, files={"file": ("b.jpg", image, "image/jpeg")}, auth=ADMIN, timeout=10
    ).json()
    assert second["selected"] is False
    listed = get(komga, f"/api/v1/series/{series_id}/thumbnails")
    validate(listed, "ThumbnailSeriesDto", array=True)
    assert [thumbnail["selected"] for thumbnail in listed] == [True, False]
    select = requests.put(f"{url}/{second['id']}/selected", auth=ADMIN, timeout=10)
    assert select.status_code == 202
    assert [thumbnail["selected"] for thumbnail in get(komga, f"/api/v1/series/{series_id}/thumbnails")] == [
        False,
        True,
    ]
    assert requests.get(f"{url}/{first['id']}", auth=ADMIN, timeout=10).content == image
    # what Komga refuses: not an image (415), no file part (400), a reader (403)
    assert (
        requests.post(url, files={"file": ("x.jpg", b"not an image", "image/jpeg")}, auth=ADMIN, timeout=10).status_code
        == 415
    )
    assert (
        requests.post(url, files={"other": ("x.jpg", image, "image/jpeg")}, auth=ADMIN, timeout=10).status_code == 400
    )
    assert (
        requests.post(url, files={"file": ("x.jpg", image, "image/jpeg")}, auth=READER, timeout=10).status_code == 403
    )
    assert requests.delete(f"{url}/{first['id']}", auth=ADMIN, timeout=10).status_code == 202
    assert len(get(komga, f"/api/v1/series/{series_id}/thumbnails")) == 1
