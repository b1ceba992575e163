"""The message files of the verify view and the public page: the same keys in zh and en, the same {params} in
both languages, no empty text, and every key the page's markup and script name literally is there."""

from __future__ import annotations

import json
import re

import pytest

from api.site import WEB

PARAM = re.compile(r"\{(\w+)\}")
# bundle, the files that name its keys literally (t("key"), data-i18n="key")
BUNDLES = [("verify", ["js/verify_view.js"]), ("public", ["js/public.js", "public.html"])]


def messages(lang: str, bundle: str) -> dict[str, str]:
    return json.loads((WEB / "i18n" / lang / f"{bundle}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("bundle", "users"), BUNDLES, ids=[b for b, _ in BUNDLES])
def test_both_languages_say_the_same_things(bundle: str, users: list[str]) -> None:
    zh, en = messages("zh", bundle), messages("en", bundle)
    assert set(zh) == set(en), set(zh) ^ set(en)
    assert all(k.startswith(f"{bundle}.") for k in zh), "a key outside the bundle's prefix"
    assert [k for k in zh if not zh[k].strip() or not en[k].strip()] == []
    assert {k: (PARAM.findall(zh[k]), PARAM.findall(en[k])) for k in zh
            if sorted(PARAM.findall(zh[k])) != sorted(PARAM.findall(en[k]))} == {}
    named = set()
    for user in users:
        text = (WEB / user).read_text(encoding="utf-8")
        named |= set(re.findall(rf"""["'`]({bundle}\.[A-Za-z0-9_.]+[A-Za-z0-9_])["'`]""", text))
    assert named, f"no {bundle} keys found in {users}"
    # a name is a key, or the prefix a code is appended to (word("public.kind", d.kind))
    assert sorted(n for n in named if n not in zh and not any(k.startswith(n + ".") for k in zh)) == []
