"""The strings' home: every key in every language, the same placeholders, and the visitor's
language read from the request the way a browser sends it."""
import string

import pytest

import locales


def placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def test_every_language_has_every_key():
    keys = {lang: set(strings) for lang, strings in locales.STRINGS.items()}
    assert set(keys) >= {"en", "zh-CN"}
    for lang, have in keys.items():
        assert have == keys["en"], f"{lang}: missing {sorted(keys['en'] - have)}, extra {sorted(have - keys['en'])}"


@pytest.mark.parametrize("lang", [lang for lang in locales.STRINGS if lang != "en"])
def test_placeholders_match_english(lang):
    for key, template in locales.STRINGS["en"].items():
        assert placeholders(locales.STRINGS[lang][key]) == placeholders(template), key


def test_no_string_is_empty_and_chinese_is_chinese():
    for lang, strings in locales.STRINGS.items():
        assert all(value.strip() for value in strings.values()), lang
    # Each Chinese string holds Chinese, unless it is only names and numbers (e.g. "ReLU").
    untranslated = [k for k, v in locales.STRINGS["zh-CN"].items()
                    if v == locales.STRINGS["en"][k] and any(c.isalpha() and c.islower() for c in v.replace("ReLU", ""))]
    assert not untranslated, untranslated


@pytest.mark.parametrize("header, expected", [
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
    ("zh-TW", "zh-CN"),
    ("zh", "zh-CN"),
    ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
    ("fr-FR,fr;q=0.9", "en"),
    ("fr;q=0.9, zh;q=0.5", "zh-CN"),
    ("en;q=0.1, zh-CN;q=0.5", "zh-CN"),
    ("", "en"),
    (None, "en"),
    ("garbage;;;q=x", "en"),
])
def test_language_follows_accept_language(header, expected):
    assert locales.best_language(header) == expected


def test_text_fills_placeholders_and_ui_refuses_unknown_keys():
    assert locales.text("app.tab.draw", "zh-CN") == "手写"
    assert locales.text("app.tab.draw", "xx") == "Draw"  # unknown language: English
    with pytest.raises(KeyError):
        locales.ui("no.such.key")
