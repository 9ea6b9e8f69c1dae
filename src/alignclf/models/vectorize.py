"""TF-IDF features at tagging time without importing scikit-learn: the numbers a fitted `TfidfVectorizer` gives.

Importing scikit-learn takes two to three seconds (it pulls in scipy.stats and pandas), which
would be most of the time `alignclf tag` needs for a small feed. Training fits scikit-learn's
`TfidfVectorizer`; its vocabulary and idf weights then go into this transform, which repeats
its analyzers (word n-grams by token pattern, `char` and `char_wb` n-grams), sublinear tf, idf
and L2 normalisation. `tests/test_models.py` checks the two agree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import chain, repeat

import numpy as np

_WHITE_SPACES = re.compile(r"\s\s+")


def _word_ngrams(tokens: list[str], low: int, high: int) -> list[str]:
    grams = list(tokens) if low == 1 else []
    for n in range(max(low, 2), high + 1):
        grams += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return grams


def _char_wb_ngrams(text: str, low: int, high: int) -> list[str]:
    grams = []
    for word in _WHITE_SPACES.sub(" ", text).split():
        word = f" {word} "
        length = len(word)
        for n in range(low, high + 1):
            grams += [word[i : i + n] for i in range(max(1, length - n + 1))]
            if length <= n:  # a short word counts once, as scikit-learn counts it
                break
    return grams


def _char_ngrams(text: str, low: int, high: int) -> list[str]:
    text = _WHITE_SPACES.sub(" ", text)
    return [text[i : i + n] for n in range(low, min(high, len(text)) + 1) for i in range(len(text) - n + 1)]


class Vectorizer:
    """One feature block: an analyzer, a fixed vocabulary and idf weights, rows L2-normalised.

    `char_wb` n-grams never cross a word, so each word's vocabulary columns are found once and
    cached (news repeats its words); the cache is emptied when it reaches `CACHE_WORDS`.
    """

    CACHE_WORDS = 50_000

    def __init__(
        self,
        analyzer: str,
        ngram_range: Sequence[int],
        vocabulary: Sequence[str],
        idf: np.ndarray,
        sublinear_tf: bool,
        token_pattern: str | None = None,
    ):
        self.analyzer = analyzer
        self.low, self.high = int(ngram_range[0]), int(ngram_range[1])
        self.terms = list(vocabulary)
        self.index = {term: i for i, term in enumerate(self.terms)}
        self.idf = np.asarray(idf, dtype=np.float64)
        self.sublinear_tf = sublinear_tf
        self.token_pattern = re.compile(token_pattern) if token_pattern else None
        self._words: dict[str, list[int]] = {}

    @classmethod
    def from_sklearn(cls, fitted) -> Vectorizer:
        terms = sorted(fitted.vocabulary_, key=fitted.vocabulary_.__getitem__)
        return cls(fitted.analyzer, fitted.ngram_range, terms, fitted.idf_, fitted.sublinear_tf, fitted.token_pattern)

    def grams(self, text: str) -> list[str]:
        text = text.lower()
        if self.analyzer == "word":
            return _word_ngrams(self.token_pattern.findall(text), self.low, self.high)
        if self.analyzer == "char_wb":
            return _char_wb_ngrams(text, self.low, self.high)
        return _char_ngrams(text, self.low, self.high)

    def _columns(self, text: str) -> list[int]:
        """The vocabulary columns of a text's n-grams, one per occurrence; -1 for an n-gram out of the vocabulary."""
        index = self.index
        if self.analyzer != "char_wb":
            grams = self.grams(text)
            return list(map(index.get, grams, repeat(-1, len(grams))))
        columns, words = [], self._words
        for word in text.lower().split():
            found = words.get(word)
            if found is None:
                found = [i for i in map(index.get, _char_wb_ngrams(word, self.low, self.high)) if i is not None]
                if len(words) >= self.CACHE_WORDS:
                    words.clear()
                words[word] = found
            columns += found
        return columns

    def transform(self, texts: Sequence[str]):
        from scipy.sparse import csr_matrix

        found = [self._columns(text) for text in texts]
        lengths = np.fromiter(map(len, found), dtype=np.int64, count=len(found))
        columns = np.fromiter(chain.from_iterable(found), dtype=np.int64, count=int(lengths.sum()))
        rows = np.repeat(np.arange(len(found)), lengths)
        known = columns >= 0
        rows, columns = rows[known], columns[known]
        # Duplicate (row, column) pairs are summed: the term counts.
        matrix = csr_matrix((np.ones(len(columns)), (rows, columns)), shape=(len(found), len(self.terms)))
        matrix.sum_duplicates()
        if self.sublinear_tf:
            matrix.data = np.log(matrix.data) + 1
        matrix.data *= self.idf[matrix.indices]
        owner = np.repeat(np.arange(len(found)), np.diff(matrix.indptr))
        norms = np.sqrt(np.bincount(owner, weights=matrix.data**2, minlength=len(found)))
        matrix.data /= np.where(norms > 0, norms, 1.0)[owner]
        return matrix.astype(np.float32)
