"""Run inside ComicTagger's Python (not collected by pytest): drive the talker directly and print JSON.

python talker_probe.py WORKDIR SITE_URL PHASE   (PHASE: main, again, ban; the test runs the site)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from comictalker.comictalker import RLCallBack, TalkerNetworkError

from bdnex_comictagger.talker import NETWORK_BLOCKED, BedethequeTalker
from bdnex_comictagger.tomes import canonical_issue


def main(folder: Path, base_url: str, phase: str) -> dict:
    out: dict = {}
    talker = BedethequeTalker("1.6.0b9", folder / "cache")
    talker.parse_settings(
        {
            "bedetheque_url": base_url,
            "bedetheque_key": None,
            "bedetheque_delay": 0.0,
            "bedetheque_db": str(folder / "bdnex.db"),
            "bedetheque_bdnex_config": "",
        }
    )
    if phase == "again":
        talker.fetch_comic_data(issue_id="245127")
        out["issues"] = [i.issue_id for i in talker.fetch_issues_by_series_issue_num_and_year(["Nains"], "T01", 2015)]
        return out
    if phase == "ban":
        try:
            talker.fetch_comic_data(issue_id="253769")
        except TalkerNetworkError as error:
            out["ban"] = {"sub_code": error.sub_code, "blocked_code": NETWORK_BLOCKED, "message": str(error)}
        try:
            talker.fetch_comic_data(issue_id="245128")
        except TalkerNetworkError as error:
            out["ban_again"] = str(error)
        out["status_banned"] = talker.check_status({"bedetheque_url": base_url})
        return out
    if True:
        limit = RLCallBack(lambda wait, interval: None, 60)
        out["tomes"] = {
            form: canonical_issue(form)
            for form in ("T01", "01", "Tome 1", "HS 2", "Hors-série 2", "INT02", "Int. 2", "1A")
        }
        for query in (
            "Les Tuniques Bleues",
            "Tuniques Bleues (Les)",
            "Tuniques bleues",
            "Nains - T01 - Redwin de la Forge",
            "Abe Sapien 2008",
        ):
            found = talker.search_for_series(query, on_rate_limit=limit)
            out[f"search:{query}"] = [
                {"id": s.id, "name": s.name, "aliases": sorted(s.aliases), "count": s.count_of_issues}
                for s in found[:5]
            ]
        issues = talker.fetch_issues_in_series("Nains", on_rate_limit=limit)
        out["nains_issues"] = [
            {
                "issue": i.issue,
                "id": i.issue_id,
                "series_id": i.series_id,
                "cover": i._cover_image.URL if i._cover_image else None,
            }
            for i in issues
        ]
        out["series"] = talker.fetch_series("Nains", on_rate_limit=limit).name
        for series, number, year in (
            ("Abe-Sapien-2008", "INT 2", None),
            ("Abe-Sapien-2008", "Int. 3", None),
            ("4-as", "HS 1", None),
            ("Nains", "T01", 2015),
            ("Nains", "1", None),
        ):
            found = talker.fetch_issues_by_series_issue_num_and_year([series], number, year, on_rate_limit=limit)
            out[f"issue:{series}:{number}:{year}"] = [i.issue_id for i in found]
        metadata = talker.fetch_comic_data(issue_id="245127", on_rate_limit=limit)
        out["metadata"] = {
            "series": metadata.series,
            "issue": metadata.issue,
            "title": metadata.title,
            "publisher": metadata.publisher,
            "imprint": metadata.imprint,
            "year": metadata.year,
            "month": metadata.month,
            "day": metadata.day,
            "language": metadata.language,
            "gtin": metadata.gtin,
            "genres": sorted(metadata.genres),
            "rating": metadata.critical_rating,
            "web": [str(link.url) for link in metadata.web_links],
            "credits": sorted(f"{c.role}:{c.person}" for c in metadata.credits),
            "description": bool(metadata.description),
            "cover": metadata._cover_image.URL if metadata._cover_image else None,
            "series_id": metadata.series_id,
        }
        # after the album page is cached, the year filter applies: 2015 keeps T1, 1990 drops it
        out["year_filter"] = {
            str(year): [i.issue_id for i in talker.fetch_issues_by_series_issue_num_and_year(["Nains"], "1", year)]
            for year in (2015, 1990)
        }
        out["status_ok"] = talker.check_status({"bedetheque_url": base_url})
    return out


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), sys.argv[2], sys.argv[3]), ensure_ascii=False))
