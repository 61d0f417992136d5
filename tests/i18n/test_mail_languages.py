"""Patient e-mails go out in English and French from the catalogue: the subject in the reader's
language (the request's, else English), the body in it first and then in the other."""

from __future__ import annotations

from archive import i18n
from archive.patient_access import mail


def test_a_notice_is_in_both_languages_english_first_by_default():
    subject, body = mail.new_images_message("https://portal.example.org/me")
    assert subject == "You have new images"
    english, french = body.split("\n----\n\n")
    assert english.startswith("You have new images") and french.startswith("Vous avez de nouvelles images")
    assert english.count("https://portal.example.org/me") == 1 and french.count("https://portal.example.org/me") == 1


def test_a_code_asked_for_in_french_comes_french_first():
    with i18n.language("fr"):
        subject, body = mail.code_message("12345678", 10)
    assert subject == "Votre code de connexion"
    first, second = body.split("\n----\n\n")
    assert first.startswith("Votre code de connexion est 12345678") and "10 minutes" in first
    assert second.startswith("Your sign-in code is 12345678")
