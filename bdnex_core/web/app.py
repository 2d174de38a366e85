"""The local web page (``bdnex-core web``): routes over the same database and review service as the CLI.

Pages are rendered on the server with Jinja2; the little JavaScript there is (keyboard shortcuts,
a running session's progress) ships in ``static/``. Nothing is loaded from elsewhere: the page works
offline. Images are addressed by database ids (a file, a review entry, an album), never by a path.
"""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from bdnex_core.app.review import album_id_of
from bdnex_core.errors import BdnexError
from bdnex_core.store.common import MAX_ID
from bdnex_core.web import views
from bdnex_core.web.security import Guard, GuardMiddleware
from bdnex_core.web.state import WebState
from bdnex_core.web.thumbs import ThumbnailError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from bdnex_core.config import Settings

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))


def digits_up_to(bound: int) -> str:
    """A regular expression for the decimal numbers from 0 to ``bound`` (leading zeros aside)."""
    text = str(bound)
    shorter = f"[0-9]{{1,{len(text) - 1}}}" if len(text) > 1 else ""
    same_length = [
        f"{text[:at]}[0-{int(digit) - 1}][0-9]{{{len(text) - at - 1}}}" for at, digit in enumerate(text) if digit != "0"
    ]
    return "|".join(filter(None, [shorter, *same_length, text]))


class DatabaseIdConvertor(Convertor[int]):
    """A row id in a URL. A number beyond 64 bits matches no route (404): the database could not be
    asked about it (SQLite raises OverflowError, PostgreSQL "out of range"), and no row has it."""

    regex = f"(?:{digits_up_to(MAX_ID)})"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(int(value))


register_url_convertor("id", DatabaseIdConvertor())


def state_of(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


def render(request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
    state = state_of(request)
    context = {"csrf": state.guard.csrf_token, "flash": state.take_flash(), "errors": state.take_errors(), **context}
    return templates.TemplateResponse(request, template, context, status_code=status)


def problem(request: Request, message: str, status: int = 400) -> Response:
    return render(request, "problem.html", {"message": message}, status)


async def checked_form(request: Request) -> Any:
    """The POSTed form, once its CSRF token is known to be this page's."""
    form = await request.form()
    offered = form.get("csrf") or request.headers.get("x-csrf-token")
    if not state_of(request).guard.csrf_ok(offered if isinstance(offered, str) else None):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")
    return form


def int_param(value: Any, name: str) -> int:
    """An id sent in a form: ASCII digits, within what the database holds."""
    text = str(value)
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_ID:
        raise HTTPException(400, f"{name}: an id (a number) is expected")
    return int(text)


# ---------------------------------------------------------------------- review


async def home(request: Request) -> Response:
    return RedirectResponse("/review", 303)


async def review(request: Request) -> Response:
    state = state_of(request)
    entry_id = request.path_params.get("entry_id")
    started = time.perf_counter()
    try:
        page = await state.pages.run(
            views.review_page,
            state,
            entry_id,
            request.query_params.get("q", ""),
            request.query_params.get("status", "waiting"),
        )
    except BdnexError as exc:
        return problem(request, str(exc), 404)
    response = render(request, "review.html", page)
    response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    return response


async def preview(request: Request) -> Response:
    state = state_of(request)
    entry_id = request.path_params["entry_id"]
    text = request.query_params.get("album", "")
    album_id = album_id_of(text)
    if album_id is None:
        # never the text itself: any site can send the browser here with words of its choosing
        state.errors.append("what was given is neither an album id (id 245127) nor a Bédéthèque album URL")
        return RedirectResponse(f"/review/{entry_id}", 303)
    try:
        page = await state.pages.run(views.preview_page, state, entry_id, album_id)
    except BdnexError as exc:
        state.errors.append(f"album {album_id}: {exc}")
        return RedirectResponse(f"/review/{entry_id}", 303)
    return render(request, "preview.html", page)


async def act(request: Request, fallback: str, work: Any, *args: Any, failed: str = "") -> Response:
    """Run one action (under the pages lock) and go where it says; a refusal is shown on ``fallback``."""
    state = state_of(request)
    try:
        target = await state.pages.run(work, state, *args)
    except BdnexError as exc:
        state.errors.append(f"{failed}{exc}")
        target = fallback
    return RedirectResponse(target, 303)


async def show(request: Request, template: str, work: Any, *args: Any) -> Response:
    """A page from a view (under the pages lock); an unknown id gives a 404 page saying which."""
    state = state_of(request)
    try:
        page = await state.pages.run(work, state, *args)
    except BdnexError as exc:
        return problem(request, str(exc), 404)
    return render(request, template, page)


async def accept(request: Request) -> Response:
    form = await checked_form(request)
    entry_id = request.path_params["entry_id"]
    album_id = int_param(form.get("album_id"), "album_id")
    confirmed = form.get("confirmed") == "1"
    return await act(request, f"/review/{entry_id}", views.accept, entry_id, album_id, confirmed, failed="not tagged: ")


async def skip(request: Request) -> Response:
    await checked_form(request)
    return await act(request, "/review", views.skip, request.path_params["entry_id"])


async def undo(request: Request) -> Response:
    await checked_form(request)
    return await act(request, "/review", views.undo)


# ---------------------------------------------------------------------- sessions, library, file


async def sessions(request: Request) -> Response:
    return await show(request, "sessions.html", views.sessions_page)


async def session(request: Request) -> Response:
    query = request.query_params
    view = views.session_view(*(query.get(name, "") for name in ("state", "decision", "q", "sort", "page")))
    started = time.perf_counter()
    response = await show(request, "session.html", views.session_page, request.path_params["session_id"], view)
    response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    return response


async def session_progress(request: Request) -> Response:
    state = state_of(request)
    try:
        return JSONResponse(await state.pages.run(views.session_progress, state, request.path_params["session_id"]))
    except BdnexError as exc:
        return JSONResponse({"error": str(exc)}, 404)


async def library(request: Request) -> Response:
    return await show(request, "library.html", views.library_page)


async def file_page(request: Request) -> Response:
    return await show(request, "file.html", views.file_page, request.path_params["file_id"])


async def restore(request: Request) -> Response:
    form = await checked_form(request)
    file_id = request.path_params["file_id"]
    backup_id = int_param(form.get("backup_id"), "backup_id")
    return await act(request, f"/file/{file_id}", views.restore, file_id, backup_id, failed="not restored: ")


# ---------------------------------------------------------------------- covers (by id only)


def image(data: bytes) -> Response:
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=300"})


async def file_cover(request: Request) -> Response:
    """``/cover/file/ID`` (a processed file) or ``/cover/entry/ID`` (a review entry's file)."""
    state = state_of(request)
    kind, key = request.path_params["kind"], request.path_params["key"]

    def path_of() -> str | None:
        db = state.covers.db
        row = db.files.get_by_id(key) if kind == "file" else db.reviews.get(key) if kind == "entry" else None
        return str(row["file_path"]) if row else None

    path = await state.covers.run(path_of)
    if path is None:
        return Response("no such file in the database", 404, media_type="text/plain")
    try:
        return image(await state.covers.run(state.thumbs.file_cover, path))
    except BdnexError as exc:  # ArchiveError, ThumbnailError
        return Response(f"no cover: {exc}", 404, media_type="text/plain")


async def album_cover(request: Request) -> Response:
    state = state_of(request)
    album_id = request.path_params["album_id"]
    cached = state.thumbs.cached_album_cover(album_id)
    if cached is not None:
        return image(cached)

    def fetch() -> bytes | None:
        if not state.covers.db.library.album_known(album_id):
            return None
        return state.thumbs.album_cover(state.cover_client, state.covers.db, album_id)

    try:
        data = await state.covers.run(fetch)
    except (BdnexError, ThumbnailError) as exc:
        return Response(f"no cover for album {album_id}: {exc}", 404, media_type="text/plain")
    if data is None:
        return Response(f"album {album_id} is not in the database", 404, media_type="text/plain")
    return image(data)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return problem(request, str(exc.detail), exc.status_code)


def create_app(settings: Settings, guard: Guard | None = None, *, client: Any = None) -> Starlette:
    """The ASGI application over ``settings``' database (``client``: the Bédéthèque client to use)."""
    guard = guard or Guard.for_bind("127.0.0.1")
    state = WebState.open(settings, guard, client=client)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        for notice in await state.pages.run(state.service.prune):
            state.flash.append(notice)
        yield
        state.close()

    routes = [
        Route("/", home),
        Route("/review", review),
        Route("/review/undo", undo, methods=["POST"]),
        Route("/review/{entry_id:id}", review),
        Route("/review/{entry_id:id}/preview", preview),
        Route("/review/{entry_id:id}/accept", accept, methods=["POST"]),
        Route("/review/{entry_id:id}/skip", skip, methods=["POST"]),
        Route("/sessions", sessions),
        Route("/sessions/{session_id:id}", session),
        Route("/sessions/{session_id:id}/progress", session_progress),
        Route("/library", library),
        Route("/file/{file_id:id}", file_page),
        Route("/file/{file_id:id}/restore", restore, methods=["POST"]),
        Route("/cover/album/{album_id:id}", album_cover),
        Route("/cover/{kind:str}/{key:id}", file_cover),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(GuardMiddleware, guard=guard)],
        exception_handlers={HTTPException: http_error},
        lifespan=lifespan,
    )
    app.state.web = state
    return app
