"""parse_filename on real-world-looking names: every French BD naming convention we support."""

from __future__ import annotations

from typing import Any

import pytest

from bdnex_core.matching.filename import ParsedName, parse_filename
from bdnex_core.matching.normalize import normalize

# (file name, parent folder, series, tome, title, other expected fields)
CASES: list[tuple[str, str | None, str | None, str | None, str | None, dict[str, Any]]] = [
    # --- the classic separators
    ("Nains - T01 - Redwin de la Forge.cbz", None, "Nains", "1", "Redwin de la Forge", {}),
    ("Nains - Tome 1 - Redwin de la Forge.cbz", None, "Nains", "1", "Redwin de la Forge", {}),
    ("Nains T1 Redwin de la Forge.cbz", None, "Nains", "1", "Redwin de la Forge", {}),
    ("Nains Tome 1.cbz", None, "Nains", "1", None, {}),
    ("Nains 01 Redwin de la Forge.cbz", None, "Nains", "1", "Redwin de la Forge", {}),
    ("Nains - 01.cbz", "Nains", "Nains", "1", None, {}),
    ("Astérix - 40.cbz", None, "Astérix", "40", None, {}),
    ("Astérix 40.cbz", None, "Astérix", "40", None, {}),
    ("Astérix - 40 - L'Iris blanc.cbz", None, "Astérix", "40", "L'Iris blanc", {}),
    ("Spirou #3.cbz", None, "Spirou", "3", None, {}),
    ("The Walking Dead #12 - Un monde parfait.cbz", None, "The Walking Dead", "12", "Un monde parfait", {}),
    ("Blacksad (T3).cbz", None, "Blacksad", "3", None, {}),
    ("Astérix (T3) Astérix et les Goths.cbz", None, "Astérix", "3", "Astérix et les Goths", {}),
    ("Blacksad (Tome 3) - Âme rouge.cbz", None, "Blacksad", "3", "Âme rouge", {}),
    ("Yoko Tsuno - T.01 - Le Trio de l'étrange.cbz", None, "Yoko Tsuno", "1", "Le Trio de l'étrange", {}),
    ("Yoko Tsuno - Vol. 3.cbz", None, "Yoko Tsuno", "3", None, {}),
    ("Yoko Tsuno n°3.cbz", None, "Yoko Tsuno", "3", None, {}),
    ("Les Vieux Fourneaux - 05 - Bons pour l'asile.cbz", None, "Les Vieux Fourneaux", "5", "Bons pour l'asile", {}),
    ("Les vieux fourneaux tome 05 [FR].cbz", None, "Les vieux fourneaux", "5", None, {"language": "fr"}),
    ("Les Légendaires - 01 - La Pierre de Jovénia.cbr", None, "Les Légendaires", "1", "La Pierre de Jovénia", {}),
    ("Blacksad 1 - Quelque part entre les ombres.cbz", None, "Blacksad", "1", "Quelque part entre les ombres", {}),
    ("Le Transperceneige - 2 - L'Arpenteur.cbz", None, "Le Transperceneige", "2", "L'Arpenteur", {}),
    ("Les Aventures de Tintin - 12.cbz", None, "Les Aventures de Tintin", "12", None, {}),
    ("Murena - Chapitre 4 - Ceux qui vont mourir.cbz", None, "Murena", "4", "Ceux qui vont mourir", {}),
    ("Sept - 01 - Sept Psychopathes.cbz", None, "Sept", "1", "Sept Psychopathes", {}),
    ("Donjon Monsters 3.cbz", None, "Donjon Monsters", "3", None, {}),
    # --- dotted, underscored, hyphenated (slug-like) names
    ("Les.Tuniques.Bleues.T12.cbz", None, "Les Tuniques Bleues", "12", None, {}),
    ("Nains_T01_Redwin.cbz", None, "Nains", "1", "Redwin", {}),
    ("Le_Scorpion_T03_La_Croix_de_Pierre.cbr", None, "Le Scorpion", "3", "La Croix de Pierre", {}),
    ("Valerian.01.La.Cite.des.eaux.mouvantes.cbz", None, "Valerian", "1", "La Cite des eaux mouvantes", {}),
    (
        "Les_Tuniques_Bleues_-_12_-_Les_bleus_de_la_marine.cbz",
        None,
        "Les Tuniques Bleues",
        "12",
        "Les bleus de la marine",
        {},
    ),
    ("Lanfeust_de_Troy_01.cbz", None, "Lanfeust de Troy", "1", None, {}),
    ("tintin_07.cbz", None, "tintin", "7", None, {}),
    ("Tintin.07.L.Ile.Noire.cbz", None, "Tintin", "7", "L Ile Noire", {}),
    ("L-Epee-de-Feu-Tome-1-Le-Tombeau.cbz", None, "L Epee de Feu", "1", "Le Tombeau", {}),
    ("Seuls.T10.1080p.cbz", None, "Seuls", "10", None, {}),
    # --- noise: groups, scans, years, languages, publishers, duplicates, resolutions
    (
        "[Team-BD] Largo Winch - T05 - Business Blues (2015) [FR].cbr",
        None,
        "Largo Winch",
        "5",
        "Business Blues",
        {"year": 2015, "language": "fr"},
    ),
    (
        "Largo Winch - T05 - Business Blues (Dupuis).cbz",
        None,
        "Largo Winch",
        "5",
        "Business Blues",
        {"publisher": "Dupuis"},
    ),
    (
        "Largo Winch - T01 - L'Héritier [FR] [Dupuis].cbz",
        None,
        "Largo Winch",
        "1",
        "L'Héritier",
        {"publisher": "Dupuis", "language": "fr"},
    ),
    ("Thorgal - T01 - La Magicienne trahie (c2c).cbz", None, "Thorgal", "1", "La Magicienne trahie", {}),
    ("Thorgal T01 HD.cbz", None, "Thorgal", "1", None, {}),
    ("Thorgal - T02 - L'Île des mers gelées 1920px.cbz", None, "Thorgal", "2", "L'Île des mers gelées", {}),
    ("Thorgal - T02 - L'Île des mers gelées v2.cbz", None, "Thorgal", "2", "L'Île des mers gelées", {}),
    ("Thorgal - T02 - L'Île des mers gelées (1).cbz", None, "Thorgal", "2", "L'Île des mers gelées", {}),
    ("Thorgal - T04 - La Galère noire - v2.cbz", None, "Thorgal", "4", "La Galère noire", {}),
    ("Thorgal [Team Pinkfloyd] T01 La Magicienne trahie.cbz", None, "Thorgal", "1", "La Magicienne trahie", {}),
    (
        "Gaston - T19 - La Saga des gaffes (Dupuis) (1982) [c2c].cbr",
        None,
        "Gaston",
        "19",
        "La Saga des gaffes",
        {"publisher": "Dupuis", "year": 1982},
    ),
    (
        "Valérian - 01 - La Cité des eaux mouvantes (1970).CBZ",
        None,
        "Valérian",
        "1",
        "La Cité des eaux mouvantes",
        {"year": 1970},
    ),
    ("Undertaker - T1 - Le Mangeur d'or (scan) [Team].cb7", None, "Undertaker", "1", "Le Mangeur d'or", {}),
    (
        "Seuls - T10 - Le Maître des couteaux [FR] [1280px].cbz",
        None,
        "Seuls",
        "10",
        "Le Maître des couteaux",
        {"language": "fr"},
    ),
    (
        "Astérix - T38 - La Fille de Vercingétorix (2019) (Hachette) [FR].cbz",
        None,
        "Astérix",
        "38",
        "La Fille de Vercingétorix",
        {"year": 2019, "publisher": "Hachette", "language": "fr"},
    ),
    ("Tintin - 07 - L'Île noire (1943) [HD].cbz", None, "Tintin", "7", "L'Île noire", {"year": 1943}),
    ("Spirou #3 (2015).cbz", None, "Spirou", "3", None, {"year": 2015}),
    ("(2015) Nains - T01.cbz", None, "Nains", "1", None, {"year": 2015}),
    (
        "Les Mondes d'Aldébaran - T01 (Dargaud) [VF].pdf",
        None,
        "Les Mondes d'Aldébaran",
        "1",
        None,
        {"publisher": "Dargaud", "language": "fr"},
    ),
    (
        "Le Château des étoiles - T01 - 1869 la conquête de l'espace (Rue de Sèvres).cbz",
        None,
        "Le Château des étoiles",
        "1",
        "1869 la conquête de l'espace",
        {"publisher": "Rue de Sèvres"},
    ),
    ("Les Blondes - T01 (Soleil).zip", None, "Les Blondes", "1", None, {"publisher": "Soleil"}),
    ("Le Scorpion - Tome 03.ZIP", None, "Le Scorpion", "3", None, {}),
    ("Le Scorpion - Tome 3 - La croix de Pierre.pdf", None, "Le Scorpion", "3", "La croix de Pierre", {}),
    # --- ISBNs
    ("Nains - T01 - 9782302046443.cbz", None, "Nains", "1", None, {"isbn": "9782302046443"}),
    (
        "Nains - T01 - Redwin de la Forge [978-2-302-04644-3].cbz",
        None,
        "Nains",
        "1",
        "Redwin de la Forge",
        {"isbn": "9782302046443"},
    ),
    ("2302046447 Nains T1.cbz", None, "Nains", "1", None, {"isbn": "2302046447"}),
    ("Nains - 9782302046444.cbz", None, "Nains", None, "9782302046444", {"isbn": None}),  # bad check digit
    # --- hors-séries
    ("Lanfeust de Troy - HS - Le Bestiaire.cbz", None, "Lanfeust de Troy", "HS", "Le Bestiaire", {"tome_kind": "hs"}),
    ("Lanfeust de Troy HS2.cbz", None, "Lanfeust de Troy", "HS2", None, {"tome_number": 2}),
    ("Lanfeust de Troy - HS 2.cbz", None, "Lanfeust de Troy", "HS2", None, {}),
    (
        "Les Schtroumpfs - Hors-série 1 - Les Schtroumpfs et le livre qui dit tout.cbz",
        None,
        "Les Schtroumpfs",
        "HS1",
        "Les Schtroumpfs et le livre qui dit tout",
        {},
    ),
    ("Lanfeust de Troy - Hors Série - Les Trolls.cbz", None, "Lanfeust de Troy", "HS", "Les Trolls", {}),
    (
        "Le Marsupilami - Hors-Série - Capturez un Marsupilami.cbz",
        None,
        "Le Marsupilami",
        "HS",
        "Capturez un Marsupilami",
        {},
    ),
    ("Les Tuniques Bleues (Hors-série 2).cbz", None, "Les Tuniques Bleues", "HS2", None, {}),
    # --- intégrales
    (
        "Blueberry - INT - La Conquête de l'Ouest.cbz",
        None,
        "Blueberry",
        "INT",
        "La Conquête de l'Ouest",
        {"tome_kind": "int", "tome_number": None},
    ),
    ("Blueberry - Intégrale 2.cbz", None, "Blueberry", "INT2", None, {"tome_number": 2}),
    ("Blueberry INT2.cbz", None, "Blueberry", "INT2", None, {}),
    ("Les Nombrils - INT 1.cbz", None, "Les Nombrils", "INT1", None, {}),
    ("Les Nombrils INT.cbz", None, "Les Nombrils", "INT", None, {}),
    ("Blueberry - Intégrale - Tome 3.cbz", None, "Blueberry", "INT3", None, {}),
    ("Blueberry T1-3.cbz", None, "Blueberry", "INT", None, {"tome_kind": "int"}),
    ("Blueberry - T01-T03.cbz", None, "Blueberry", "INT", None, {"tome_kind": "int"}),
    ("Blueberry - Intégrale T1 à T3.cbz", None, "Blueberry", "INT", None, {"tome_kind": "int"}),
    ("Blueberry - Tomes 1 à 3.cbz", None, "Blueberry", "INT", None, {"tome_kind": "int"}),
    ("Thorgal - L'Intégrale 2.cbz", None, "Thorgal", "INT2", None, {}),
    # an intégrale word inside a series name ('Buck Danny L'intégrale', Tome-11 on Bédéthèque)
    ("Buck Danny L'Intégrale - Tome 11.cbz", None, "Buck Danny L'Intégrale", "11", None, {}),
    ("Spider Man Hors Série 2e série T6 Axis.cbz", None, "Spider Man Hors Série 2e série", "6", "Axis", {}),
    (
        "Série jaune Hors série Elvifrance - 08 - La mort invisible.cbz",
        None,
        "Série jaune Hors série Elvifrance",
        "8",
        "La mort invisible",
        {},
    ),
    # --- cycles, lettered tomes, tome 0
    ("Sillage - Cycle 2 - T08 - Nature humaine.cbz", None, "Sillage", "8", "Nature humaine", {"cycle": 2}),
    # a cycle joined to the series stays in it, as Bédéthèque names series ('Rozen Maiden Saison 2')
    ("Les Mondes d'Aldébaran Cycle 3 T02.cbz", None, "Les Mondes d'Aldébaran Cycle 3", "2", None, {"cycle": 3}),
    ("Rozen Maiden Saison 2 - Tome 07.cbr", None, "Rozen Maiden Saison 2", "7", None, {"cycle": 2}),
    (
        "Les Chroniques de la Lune Noire - T01 - Cycle 1 - Le Signe des ténèbres.cbz",
        None,
        "Les Chroniques de la Lune Noire",
        "1",
        "Le Signe des ténèbres",
        {"cycle": 1},
    ),
    ("Aquablue - T1a.cbz", None, "Aquablue", "1a", None, {"tome_number": 1}),
    ("Nains - T1b - Redwin.cbz", None, "Nains", "1b", "Redwin", {"tome_number": 1}),
    ("Spirou 1A.cbz", None, "Spirou", "1a", None, {}),
    ("Sillage - T00 - Engrenages.cbz", None, "Sillage", "0", "Engrenages", {"tome_number": 0}),
    ("Sillage Tome 0 - Engrenages.cbz", None, "Sillage", "0", "Engrenages", {}),
    # --- numbers that belong to the series or the title
    ("XIII - T01 - Le Jour du soleil noir.cbz", None, "XIII", "1", "Le Jour du soleil noir", {}),
    ("XIII Mystery - T01 - La Mangouste.cbz", None, "XIII Mystery", "1", "La Mangouste", {}),
    ("XIII.cbz", None, "XIII", None, None, {"tome_kind": None}),
    ("1984.cbz", None, "1984", None, None, {"year": None}),
    ("Paris 2119.cbz", None, "Paris 2119", None, None, {"year": None}),
    ("Spirou et Fantasio 50 ans.cbz", None, "Spirou et Fantasio 50 ans", None, None, {}),
    ("Spirou et Fantasio - 50 ans.cbz", None, "Spirou et Fantasio", None, "50 ans", {}),
    ("100 Bullets - T01.cbz", None, "100 Bullets", "1", None, {}),
    ("Les 4 As - 01 - Les 4 As et l'Aéroplaf.cbz", None, "Les 4 As", "1", "Les 4 As et l'Aéroplaf", {}),
    (
        "Les 5 Terres - T01 - De toute la hauteur de sa chute.cbz",
        None,
        "Les 5 Terres",
        "1",
        "De toute la hauteur de sa chute",
        {},
    ),
    ("Les 5 Terres 01.cbz", None, "Les 5 Terres", "1", None, {}),
    ("Les 7 Vies de l'Épervier - T02.cbz", None, "Les 7 Vies de l'Épervier", "2", None, {}),
    ("Le Chat - 1999.cbz", None, "Le Chat", None, "1999", {"year": None}),
    ("Batman - Année Un (2005).cbz", None, "Batman", None, "Année Un", {"year": 2005}),
    ("Astérix le Gaulois (1961).cbz", None, "Astérix le Gaulois", None, None, {"year": 1961}),
    ("Tintin au pays des Soviets.cbz", None, "Tintin au pays des Soviets", None, None, {"tome_kind": None}),
    # --- one-shots
    ("Quai d'Orsay - One Shot.cbz", None, "Quai d'Orsay", None, None, {"tome_kind": "oneshot"}),
    (
        "Le Château des animaux (One-shot) [FR].cbz",
        None,
        "Le Château des animaux",
        None,
        None,
        {"tome_kind": "oneshot", "language": "fr"},
    ),
    ("Ma révérence - Album unique.cbz", None, "Ma révérence", None, None, {"tome_kind": "oneshot"}),
    # --- article placements
    (
        "Tuniques Bleues (Les) - 12 - Les Bleus de la marine.cbz",
        None,
        "Tuniques Bleues (Les)",
        "12",
        "Les Bleus de la marine",
        {"series_norm": "tuniques bleues les"},
    ),
    ("Walking Dead (The) - T01 - Passé décomposé.cbz", None, "Walking Dead (The)", "1", "Passé décomposé", {}),
    ("L'Épée de Feu - T01.cbz", None, "L'Épée de Feu", "1", None, {"series_norm": "l epee de feu"}),
    ("L’Épée de Feu T1.cbz", None, "L’Épée de Feu", "1", None, {"series_norm": "l epee de feu"}),
    # --- the folder gives the series
    ("T01.cbz", "Nains", "Nains", "1", None, {}),
    ("Tome 1.cbz", "Nains", "Nains", "1", None, {}),
    ("01 - Redwin de la Forge.cbz", "Nains", "Nains", "1", "Redwin de la Forge", {}),
    (
        "T12 - Les Bleus de la marine.cbr",
        "Les Tuniques Bleues (Dupuis)",
        "Les Tuniques Bleues",
        "12",
        "Les Bleus de la marine",
        {},
    ),
    ("HS1.cbz", "Lanfeust de Troy", "Lanfeust de Troy", "HS1", None, {}),
    ("Intégrale 2.cbz", "Blueberry", "Blueberry", "INT2", None, {}),
    ("03.cbz", "Les_Nombrils", "Les Nombrils", "3", None, {}),
    ("T01.cbz", None, None, "1", None, {"series_norm": ""}),
    (
        "[Team-BD] 03 - Requiem chez les cheminots.cbz",
        "Brigade du rail",
        "Brigade du rail",
        "3",
        "Requiem chez les cheminots",
        {},
    ),
    ("14_La_sangre_de_Bell_Hissar.cbz", "Conan", "Conan", "14", "La sangre de Bell Hissar", {}),
    ("21 - 2 Inversion.cbz", "Avengers X Men Axis", "Avengers X Men Axis", "21", "2 Inversion", {}),
    ("13 rue de l'Espoir.cbz", None, "13 rue de l'Espoir", None, None, {}),
    ("Tome-05 HD.cbr", "Border Kodaka", "Border Kodaka", "5", None, {}),
    ("Detective-Conan-Tome-80 (scan).cbz", None, "Detective Conan", "80", None, {}),
    ("20th Century Boys - T07.cbz", None, "20th Century Boys", "7", None, {}),
    ("Corto Maltese Noir et blanc - T13.cbz", None, "Corto Maltese Noir et blanc", "13", None, {}),
    (
        "[BDFR] Intégrale 1 - Intégrale tomes 1 à 4.cbz",
        "Histoires de Bretagne",
        "Histoires de Bretagne",
        "INT1",
        "Intégrale tomes 1 à 4",
        {},
    ),
    (
        "L'Intégrale T21 - Widows Kiss.cbz",
        "Daredevil Epic Collection 2014",
        "Daredevil Epic Collection 2014",
        "INT21",
        "Widows Kiss",
        {},
    ),
    ("Hulk L'intégrale T.06.cbz", None, "Hulk", "INT6", None, {}),
    ("Push 2015 05 (One shot).pdf", None, "Push 2015 05", None, None, {"tome_kind": "oneshot"}),
    ("Secret.Origins.2014.3 v2.pdf", None, "Secret Origins 2014", "3", None, {}),
    ("Spirou 1.5.cbz", None, "Spirou 1.5", None, None, {}),
    ("Lune de sang 03 Vol 3.cbz", None, "Lune de sang", "3", "Vol 3", {}),
    ("Conan the Barbarian Vol 1 1970 155.cbz", None, "Conan the Barbarian Vol 1 1970", "155", None, {}),
    ("9.Retrouvailles v2.cbz", "Assassin Royal", "Assassin Royal", "9", "Retrouvailles", {}),
    ("Napoleon Funcken INT Napoleon.cbz", None, "Napoleon Funcken", "INT", "Napoleon", {}),
    ("Nains - T02.cbz", "Thorgal", "Nains", "2", None, {}),  # the name's own series wins
    (
        "Blake & Mortimer - 01 - Le Secret de l'Espadon.cbz",
        None,
        "Blake & Mortimer",
        "1",
        "Le Secret de l'Espadon",
        {"series_norm": "blake et mortimer"},
    ),
    # --- paths and odd spacing
    ("/srv/bd/Nains/Nains - T03 - Oösram des Errants.cbz", None, "Nains", "3", "Oösram des Errants", {}),
    ("  Nains   -   T04  -  Aral du Fort.cbz ", None, "Nains", "4", "Aral du Fort", {}),
    ("Nains - T05 - Ordo du Bouclier", None, "Nains", "5", "Ordo du Bouclier", {}),  # no extension
    ("Nains/T06.cbz", None, "Nains", "6", None, {}),  # a relative path carries its folder
    (
        "C:\\BD\\Les Tuniques Bleues\\12 - Les Bleus de la marine.cbr",
        None,
        "Les Tuniques Bleues",
        "12",
        "Les Bleus de la marine",
        {},
    ),
    ("T07.cbz", "/srv/bd/Nains/", "Nains", "7", None, {}),
    (
        "Justice League United - T10VC - The Infinitus Saga.cbz",
        None,
        "Justice League United",
        "10",
        "VC The Infinitus Saga",
        {},
    ),
    ("Nains - T01 - Redwin de la Forge (2015) (1).cbz", None, "Nains", "1", "Redwin de la Forge", {"year": 2015}),
    ("Le Grand Duc - 3 - Wolfgang (1080p).cbz", None, "Le Grand Duc", "3", "Wolfgang", {}),
    (
        "Les Tuniques Bleues - T12 - Les Bleus de la marine (Cauvin - Lambil).cbz",
        None,
        "Les Tuniques Bleues",
        "12",
        "Les Bleus de la marine",
        {},
    ),
    ("Batwoman (2011) - T01.cbz", None, "Batwoman", "1", None, {"year": 2011}),
    ("Le Chateau des Etoiles T01 a T03.cbz", None, "Le Chateau des Etoiles", "INT", None, {"tome_kind": "int"}),
    ("Série - T01 - 300 Spartiates.cbz", None, "Série", "1", "300 Spartiates", {}),
    ("Nains-T01-Redwin.cbz", None, "Nains", "1", "Redwin", {}),
    ("NAINS - T01 - REDWIN DE LA FORGE.CBR", None, "NAINS", "1", "REDWIN DE LA FORGE", {}),
    ("nains t01 redwin de la forge.cbz", None, "nains", "1", "redwin de la forge", {}),
    (
        "Blake et Mortimer - Tome 1 - Le Secret de l'Espadon - Tome 1.cbz",
        None,
        "Blake et Mortimer",
        "1",
        "Le Secret de l'Espadon Tome 1",
        {},
    ),
]

KIND_OF_PREFIX = {"HS": "hs", "INT": "int"}


def _expected_kind(tome: str | None) -> str | None:
    if tome is None:
        return None
    for prefix, kind in KIND_OF_PREFIX.items():
        if tome.startswith(prefix):
            return kind
    return "regular"


def test_table_is_large_and_unique() -> None:
    names = [(name, parent) for name, parent, *_ in CASES]
    assert len(CASES) >= 80
    assert len(set(names)) == len(names)


@pytest.mark.parametrize(("name", "parent", "series", "tome", "title", "extra"), CASES, ids=[c[0] for c in CASES])
def test_parse_filename(
    name: str, parent: str | None, series: str | None, tome: str | None, title: str | None, extra: dict[str, Any]
) -> None:
    parsed = parse_filename(name, parent)
    assert isinstance(parsed, ParsedName)
    assert parsed.raw == name
    assert (parsed.series, parsed.tome, parsed.title) == (series, tome, title)
    assert parsed.series_norm == extra.get("series_norm", normalize(series or ""))
    assert parsed.title_norm == normalize(title or "")
    assert parsed.tome_kind == extra.get("tome_kind", _expected_kind(tome))
    if "tome_number" in extra:
        assert parsed.tome_number == extra["tome_number"]
    elif tome is not None and tome[0].isdigit():
        assert parsed.tome_number == int("".join(ch for ch in tome if ch.isdigit()))
    for key in ("year", "publisher", "isbn", "cycle", "language"):
        assert getattr(parsed, key) == extra.get(key), key
