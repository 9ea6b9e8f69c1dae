"""TF-IDF features at tagging time without importing scikit-learn: the numbers a fitted `TfidfVectorizer` gives.

Importing scikit-learn takes two to three seconds (it pulls in scipy.stats and pandas), which
would be most of the time `alignclf tag` needs for a small feed. Training fits scikit-learn's
`TfidfVectorizer`; its vocabulary and idf weights then go into this transform, which repeats
its analyzers (word n-grams by token pattern, `char` and `char_wb` n-grams), sublinear tf, idf
and L2 normalisation. `tests/test_models.py` checks the two agree.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

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
    """One feature block: an analyzer, a fixed vocabulary and idf weights, rows L2-normalised."""

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
        self.idf = np.asarray(idf, dtype=np.float32)
        self.sublinear_tf = sublinear_tf
        self.token_pattern = re.compile(token_pattern) if token_pattern else None

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

    def transform(self, texts: Sequence[str]):
        from scipy.sparse import csr_matrix

        indptr, indices, values = [0], [], []
        index = self.index
        for text in texts:
            counts = Counter(i for i in map(index.get, self.grams(text)) if i is not None)
            columns = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
            if self.sublinear_tf:
                tf = np.log(tf) + 1
            weights = tf * self.idf[columns]
            norm = float(np.sqrt(np.dot(weights, weights)))
            indices.append(columns)
            values.append(weights / norm if norm else weights)
            indptr.append(indptr[-1] + len(columns))
        data = np.concatenate(values) if values else np.zeros(0, dtype=np.float32)
        columns = np.concatenate(indices) if indices else np.zeros(0, dtype=np.int64)
        matrix = csr_matrix((data, columns, np.asarray(indptr)), shape=(len(texts), len(self.terms)), dtype=np.float32)
        matrix.sort_indices()
        return matrix
