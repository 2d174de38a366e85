"""calibre metadata source "Bédéthèque (bdnex)".

Runs inside calibre's own Python, so it imports nothing from bdnex-core: it calls
the ``bdnex-core`` command (``identify NAME --json`` and ``calibre album ID``) in a
subprocess. ``calibre album`` answers with the record ``calibre sync`` writes by
(authors "First Last" with their author sort, series index, summary paragraphs, links
on the configured site), so this side only copies it into calibre's Metadata. Covers
are fetched directly from the cover URL bdnex-core returned.
"""

import json
import os
import shlex
import shutil
import subprocess

from calibre.ebooks.metadata.book.base import Metadata
from calibre.ebooks.metadata.sources.base import Option, Source

BEDETHEQUE = "bedetheque"


class BdnexMissing(Exception):
    pass


class BedethequeBdnex(Source):
    name = "Bédéthèque (bdnex)"
    description = "Metadata for French-language comics (BD) from Bédéthèque, through the bdnex-core command"
    author = "bdnex-core"
    version = (0, 1, 0)
    minimum_calibre_version = (5, 0, 0)
    supported_platforms = ["windows", "osx", "linux"]
    capabilities = frozenset(["identify", "cover"])
    touched_fields = frozenset([
        "title", "authors", "series", "series_index", "publisher", "pubdate", "tags", "comments",
        "rating", "languages", "identifier:isbn", "identifier:bedetheque",
    ])
    has_html_comments = True
    supports_gzip_transfer_encoding = True
    cached_cover_url_is_reliable = True

    options = (
        Option("bdnex_command", "string", "bdnex-core", "bdnex-core command",
               "The bdnex-core program (a full path if it is not on PATH); extra arguments such as "
               "--config FILE may follow."),
        Option("max_results", "number", 5, "Maximum results", "How many Bédéthèque albums to return."),
    )

    # ------------------------------------------------------------------ bdnex-core bridge

    def _command(self):
        words = shlex.split(self.prefs["bdnex_command"] or "bdnex-core")
        program = shutil.which(words[0]) if not os.path.isabs(words[0]) else words[0]
        if not program or not os.path.exists(program):
            raise BdnexMissing(
                "bdnex-core was not found (%r): install it (pip install bdnex-core) or set its full path "
                "in this source's options" % words[0])
        return [program] + words[1:]

    def _run(self, args, timeout):
        env = dict(os.environ)
        # calibre's bundled Python must not leak into bdnex-core's interpreter
        for name in ("PYTHONPATH", "PYTHONHOME", "PYTHONIOENCODING"):
            env.pop(name, None)
        proc = subprocess.run(self._command() + args, capture_output=True, timeout=max(timeout, 30), env=env)
        if proc.returncode not in (0, 1):
            last = (proc.stderr or b"").decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError("bdnex-core %s failed: %s" % (args[0], last[0]))
        return proc.stdout.decode("utf-8", "replace")

    def album(self, album_id, timeout):
        return json.loads(self._run(["calibre", "album", str(album_id)], timeout))

    def candidates(self, title, authors, timeout):
        """``bdnex-core calibre identify``: the albums ranked with the authors, each ``accept`` or ``weak``."""
        args = ["calibre", "identify", "--title", title, "--limit", str(int(self.prefs["max_results"] or 5))]
        for author in authors or []:
            args += ["--author", author]
        return json.loads(self._run(args, timeout) or "{}")

    # ------------------------------------------------------------------ mapping

    def to_metadata(self, album):
        """calibre's Metadata from a ``bdnex-core calibre album`` record."""
        mi = Metadata(album.get("title") or "Unknown", album.get("authors") or ["Unknown"])
        if album.get("author_sort"):
            mi.author_sort = album["author_sort"]
        if album.get("series"):
            mi.series = album["series"]
            if album.get("series_index") is not None:
                mi.series_index = float(album["series_index"])
        mi.publisher = album.get("publisher")
        if album.get("pubdate"):
            from calibre.utils.date import parse_only_date
            try:
                mi.pubdate = parse_only_date(album["pubdate"], assume_utc=True)
            except Exception:
                pass
        mi.tags = list(album.get("tags") or [])
        mi.comments = album.get("comments")
        if album.get("rating") is not None:
            try:
                mi.rating = float(album["rating"])
            except (TypeError, ValueError):
                pass
        mi.languages = [album.get("language") or "fra"]
        album_id = str(album.get("album_id"))
        mi.set_identifier(BEDETHEQUE, album_id)
        if album.get("isbn"):
            mi.isbn = album["isbn"]
        mi.source_relevance = 0
        if album.get("cover_url"):
            self.cache_identifier_to_cover_url(album_id, album["cover_url"])
        if album.get("url"):
            self.cache_identifier_to_cover_url("url:" + album_id, album["url"])
        return mi

    # ------------------------------------------------------------------ Source API

    def get_book_url(self, identifiers):
        album_id = identifiers.get(BEDETHEQUE)
        if not album_id:
            return None
        # the page on the configured site, known once the album was looked up (never a guessed host)
        url = self.cached_identifier_to_cover_url("url:" + album_id)
        return (BEDETHEQUE, album_id, url) if url else None

    def get_cached_cover_url(self, identifiers):
        album_id = identifiers.get(BEDETHEQUE)
        return self.cached_identifier_to_cover_url(album_id) if album_id else None

    def identify(self, log, result_queue, abort, title=None, authors=None, identifiers={}, timeout=30):
        """An album named by its identifier, or the one bdnex-core would accept for the title and authors.

        calibre applies the first result of a bulk download without asking: a title that only
        resembles an album's (or an album by other authors) is never returned, only logged."""
        try:
            if identifiers.get(BEDETHEQUE):
                records = [self.album(identifiers[BEDETHEQUE], timeout)]
            elif title:
                found = self.candidates(title, authors, timeout).get("results") or []
                records = [result for result in found if result.get("decision") == "accept"]
                for result in found:
                    if result.get("decision") != "accept":
                        log.info("Bédéthèque (bdnex): weak match not returned: album %s (confidence %.2f): %s" % (
                            result.get("album_id"), result.get("confidence") or 0, result.get("explain")))
            else:
                return None
            for relevance, record in enumerate(records):
                if abort.is_set():
                    break
                mi = self.to_metadata(record)
                mi.source_relevance = relevance
                self.clean_downloaded_metadata(mi)
                result_queue.put(mi)
        except BdnexMissing as err:
            log.error(str(err))
            return str(err)
        except Exception as err:
            log.exception("Bédéthèque (bdnex) failed")
            return "Bédéthèque (bdnex): %s" % err
        return None

    def download_cover(self, log, result_queue, abort, title=None, authors=None, identifiers={}, timeout=30,
                       get_best_cover=False):
        url = self.get_cached_cover_url(identifiers)
        if not url:
            queue = __import__("queue").Queue()
            self.identify(log, queue, abort, title=title, authors=authors, identifiers=identifiers, timeout=timeout)
            while not queue.empty():
                mi = queue.get_nowait()
                url = self.get_cached_cover_url(mi.identifiers)
                if url:
                    break
        if not url or abort.is_set():
            log.info("Bédéthèque (bdnex): no cover found")
            return
        try:
            data = self.browser.open_novisit(url, timeout=timeout).read()
            if data:
                result_queue.put((self, data))
        except Exception:
            log.exception("Bédéthèque (bdnex): failed to download the cover from %s" % url)

