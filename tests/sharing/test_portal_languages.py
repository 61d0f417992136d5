"""The share portal speaks English and French: the browser's Accept-Language chooses, a visible
switch overrides it and is remembered in a cookie, and ``<html lang>`` says which it is."""

from __future__ import annotations

import re

import requests

from tests.support.share_helpers import issue, link_url, signed_in


def test_accept_language_chooses_french_and_html_lang_says_so(shared, portal):
    issued = issue(shared, "a_ct")
    page = requests.get(link_url(portal, issued), headers={"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"},
                        timeout=10)
    assert page.status_code == 200 and page.headers["content-language"] == "fr"
    assert '<html lang="fr">' in page.text
    assert "Ouvrir les images partagées" in page.text and "Code d&#x27;accès" in page.text
    assert 'href="?lang=en"' in page.text and ">English<" in page.text        # the switch to the other
    english = requests.get(link_url(portal, issued), headers={"Accept-Language": "en-CA"}, timeout=10)
    assert '<html lang="en">' in english.text and "Open shared images" in english.text
    assert 'href="?lang=fr"' in english.text and ">Français<" in english.text


def test_the_switch_wins_and_is_remembered(shared, portal):
    issued = issue(shared, "a_ct")
    browser = requests.Session()
    browser.headers["Accept-Language"] = "en-CA,en;q=0.9"
    switched = browser.get(link_url(portal, issued) + "?lang=fr", timeout=10)
    assert '<html lang="fr">' in switched.text
    cookie = switched.headers["set-cookie"]
    assert cookie.startswith("limestone_lang=fr;") and "Path=/" in cookie and "SameSite=Lax" in cookie
    again = browser.get(portal.url + "/", timeout=10)                       # no switch in this address
    assert '<html lang="fr">' in again.text and "Portail de partage Limestone" in again.text
    assert "set-cookie" not in again.headers
    back = browser.get(portal.url + "/?lang=en", timeout=10)
    assert '<html lang="en">' in back.text and browser.cookies.get("limestone_lang") == "en"


def test_signed_in_pages_errors_and_refusals_in_french(shared, portal):
    issued = issue(shared, "a_ct", "a_report", permissions=("view", "download"))
    french = {"Accept-Language": "fr"}
    wrong = requests.post(link_url(portal, issued), data={"answer": "WRONG-WRONG"}, headers=french, timeout=10)
    assert wrong.status_code == 401
    assert re.search(r"Encore \d tentatives erronées verrouilleront ce lien\.", wrong.text)
    session = signed_in(portal, issued)
    session.headers.update(french)
    studies = session.get(link_url(portal, issued))
    assert "Vos images partagées" in studies.text and "Télécharger toutes les images" in studies.text
    assert re.search(r"Ce lien fonctionne jusqu&#x27;au \d{1,2} \w+\.? \d{4} \d\d:\d\d \(UTC\)", studies.text)
    assert "15 images" in studies.text and "Rapport" in studies.text
    viewer = session.get(link_url(portal, issued) + "/view/1/1")
    assert "Tous les examens" in viewer.text and "Inverser les niveaux de gris" in viewer.text   # viewer labels
    refused = requests.get(portal.url + "/s/lsl_nothing_here", headers=french, timeout=10)
    assert refused.status_code == 404 and "Lien non disponible" in refused.text
    download = session.get(link_url(portal, issued) + "/download/1")
    import io
    import zipfile
    readme = zipfile.ZipFile(io.BytesIO(download.content)).read("README.TXT").decode()
    assert readme.startswith("Voici les fichiers DICOM originaux")
