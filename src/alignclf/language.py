"""The language of a text, offline: py3langid's shipped model, restricted to ISO 639-1 languages."""

from __future__ import annotations

import re
from functools import lru_cache

_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
HEAD = 600  # characters read: a title and a lead tell the language as well as a whole article


@lru_cache(maxsize=1)
def _identifier():
    """Our own identifier instance, so the library's module-wide language set is left alone.

    Only two-letter (ISO 639-1) languages are kept: the model's dialect and pidgin classes
    (Wu Chinese, Nigerian Pidgin) otherwise take short Chinese and English news texts.
    """
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(sorted({code for code in identifier.nb_classes if len(code) == 2}))
    return identifier


def detect(text: str) -> str | None:
    """ISO 639-1 code of the text's language, or None for a text without letters.

    >>> detect("Kazakhstan raised gas exports to China."), detect("哈萨克斯坦对华天然气出口增长。"), detect("2026 — 14:30")
    ('en', 'zh', None)
    """
    head = text[:HEAD]
    if not _LETTER.search(head):
        return None
    return _identifier().classify(head)[0]
