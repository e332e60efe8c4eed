"""Statistics of a text: characters, words, lines, sentences, top words, a language hint.

Pure and bounded: callers pass text already cut to `MAX_ANALYSED_CHARS` (see
`bounded_text`), so the cost is linear in a known maximum.
"""

import re
from collections import Counter
from dataclasses import dataclass

# Text beyond this many characters is not analysed (results say `truncated`).
MAX_ANALYSED_CHARS = 1_000_000
TOP_WORDS = 10

WORD_RE = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*", re.UNICODE)
SENTENCE_END_RE = re.compile(r"[.!?]+(?=\s|$)")


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Small stop-word lists: enough to drop filler from "top words" and to guess a language.
STOP_WORDS: dict[str, frozenset[str]] = {
    "en": _word_set(
        "a an and are as at be been but by for from has have he her his i in is it its me my "
        "not of on or our she so that the their them there they this to was we were what when "
        "which who will with you your"
    ),
    "de": _word_set(
        "aber als auch auf aus bei bin bis das dass dem den der des die ein eine einem einen "
        "einer es für hat ich ihr im ist mit nach nicht noch oder sich sie sind und von war "
        "wir wie zu zum zur"
    ),
    "fr": _word_set(
        "au aux avec ce ces dans de des du elle en est et il ils je la le les leur mais mes "
        "nous on ou par pas pour qu que qui sa se ses son sur une un vous"
    ),
    "es": _word_set(
        "al como con de del el ella en es esta este las lo los mas me mi no nos para pero por "
        "que se sin su sus un una y ya"
    ),
}
ALL_STOP_WORDS: frozenset[str] = frozenset().union(*STOP_WORDS.values())
# A language is named only when its stop words are this share of all words, and clearly ahead.
LANGUAGE_MIN_SHARE = 0.08


@dataclass(frozen=True)
class TextStats:
    characters: int
    words: int
    lines: int
    sentences: int
    average_word_length: float
    top_words: list[tuple[str, int]]
    language: str | None
    truncated: bool

    def as_json(self) -> dict[str, object]:
        return {
            "characters": self.characters,
            "words": self.words,
            "lines": self.lines,
            "sentences": self.sentences,
            "averageWordLength": self.average_word_length,
            "topWords": [{"word": w, "count": c} for w, c in self.top_words],
            "languageHint": self.language,
            "truncated": self.truncated,
        }


def bounded_text(text: str, limit: int = MAX_ANALYSED_CHARS) -> tuple[str, bool]:
    """The text cut to `limit` characters, and whether it was cut."""
    return (text[:limit], True) if len(text) > limit else (text, False)


def words_of(text: str) -> list[str]:
    return WORD_RE.findall(text)


def language_hint(words: list[str]) -> str | None:
    """A guess from stop-word frequencies; None when the text gives no clear signal."""
    if len(words) < 5:
        return None
    lowered = [w.lower() for w in words]
    scores = {lang: sum(1 for w in lowered if w in stops) for lang, stops in STOP_WORDS.items()}
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    (best, best_hits), (_, second_hits) = ranked[0], ranked[1]
    if best_hits / len(lowered) < LANGUAGE_MIN_SHARE or best_hits < 2 * second_hits:
        return None
    return best


def text_stats(text: str, *, truncated: bool = False) -> TextStats:
    words = words_of(text)
    counts = Counter(w.lower() for w in words if len(w) > 2 and w.lower() not in ALL_STOP_WORDS)
    lines = text.count("\n") + (1 if text and not text.endswith("\n") else 0)
    sentences = len(SENTENCE_END_RE.findall(text))
    if sentences == 0 and words:
        sentences = 1
    average = round(sum(len(w) for w in words) / len(words), 2) if words else 0.0
    return TextStats(
        characters=len(text),
        words=len(words),
        lines=lines,
        sentences=sentences,
        average_word_length=average,
        top_words=sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_WORDS],
        language=language_hint(words),
        truncated=truncated,
    )
