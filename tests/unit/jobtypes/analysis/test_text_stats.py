"""Text statistics count what a reader would count, and stay bounded."""

from function_app.jobtypes.analysis.text_stats import (
    bounded_text,
    language_hint,
    text_stats,
    words_of,
)


def test_counts_characters_words_lines_and_sentences() -> None:
    text = "The cat sat on the mat. The cat slept!\nDid the dog bark? No"
    stats = text_stats(text)
    assert stats.characters == len(text)
    assert stats.words == 14
    assert stats.lines == 2
    assert stats.sentences == 3
    assert stats.average_word_length == round(sum(len(w) for w in words_of(text)) / 14, 2)


def test_top_words_leave_out_stop_words_and_rank_by_count() -> None:
    stats = text_stats("The pipeline runs. The pipeline fails. The pipeline retries the queue.")
    assert stats.top_words[0] == ("pipeline", 3)
    assert "the" not in dict(stats.top_words)


def test_words_keep_apostrophes_and_hyphens_but_not_numbers() -> None:
    assert words_of("don't re-run 42 jobs") == ["don't", "re-run", "jobs"]


def test_the_language_hint_names_a_clear_language_only() -> None:
    english = "The report is ready and it is on the table for the team to read."
    german = "Der Bericht ist fertig und er liegt auf dem Tisch für das Team."
    assert language_hint(words_of(english)) == "en"
    assert language_hint(words_of(german)) == "de"
    assert language_hint(words_of("Kubernetes Terraform Python Azure Docker")) is None


def test_an_empty_text_has_zero_counts() -> None:
    stats = text_stats("")
    assert (stats.characters, stats.words, stats.lines, stats.sentences) == (0, 0, 0, 0)
    assert stats.average_word_length == 0.0


def test_long_text_is_cut_and_marked_truncated() -> None:
    text, cut = bounded_text("a" * 50, limit=10)
    assert (len(text), cut) == (10, True)
    assert bounded_text("short", limit=10) == ("short", False)
    assert text_stats(text, truncated=cut).as_json()["truncated"] is True
