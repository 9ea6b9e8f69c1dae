"""TF-IDF features at tagging time without importing scikit-learn: the numbers a fitted `TfidfVectorizer` gives.

Importing scikit-learn takes two to three seconds (it pulls in scipy.stats and pandas), which
would be most of the time `alignclf tag` needs for a small feed. Training fits scikit-learn's
`TfidfVectorizer`; its vocabulary and idf weights then go into this transform, which repeats
its analyzers (word n-grams by token pattern, `char` and `char_wb` n-grams), sublinear tf, idf
and L2 normalisation. `tests/test_models.py` checks the two agree.

A batch is scored in numpy rather than n-gram by n-gram: its texts become one array of code
points, every n-gram is a slice of it, and a slice's 64-bit polynomial hash comes from prefix
sums in O(1). Vocabulary columns are found by hash in an open-addressing table. A text is
then touched by Python once (lower case, tokens), not once per n-gram.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import chain

import numpy as np

_WHITE_SPACES = re.compile(r"\s\s+")
_BASE = 0x100000001B3  # odd, so it has an inverse modulo 2**64
_BASE_INVERSE = pow(_BASE, -1, 2**64)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio, odd
_SPACE = ord(" ")


def _powers(base: int, count: int) -> np.ndarray:
    """base**0 .. base**(count-1) modulo 2**64 (uint64 arithmetic wraps)."""
    out = np.full(count, base, dtype=np.uint64)
    out[:1] = 1
    return np.cumprod(out, dtype=np.uint64)


class _Codes:
    """A string's code points with prefix sums, so any slice's hash is two lookups and a product."""

    def __init__(self, text: str):
        self.codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        length = len(self.codes)
        self.powers = _powers(_BASE, length + 1)
        self.sums = np.zeros(length + 1, dtype=np.uint64)
        # sums[k] = sum of codes[m] * base**-m for m < k; the slice [i, j) hashes to base**(j-1) * (sums[j] - sums[i]).
        np.cumsum(self.codes * _powers(_BASE_INVERSE, length), dtype=np.uint64, out=self.sums[1:])

    def hashes(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Hash of each slice [start, end) (end > start), mixed with its length."""
        lengths = (ends - starts).astype(np.uint64)
        return self.powers[ends - 1] * (self.sums[ends] - self.sums[starts]) ^ (lengths * _GOLDEN)


class _HashIndex:
    """Column of each vocabulary term by its hash: linear probing in a table a few times the vocabulary's size.

    A slot holding key 0 is empty (no term may hash to 0), so a probe reads one array until it hits.
    """

    def __init__(self, terms: Sequence[str]):
        lengths = np.fromiter(map(len, terms), dtype=np.int64, count=len(terms))
        ends = np.cumsum(lengths)
        keys = _Codes("".join(terms)).hashes(ends - lengths, ends) if len(terms) else np.zeros(0, np.uint64)
        ordered = np.sort(keys)
        if (ordered[1:] == ordered[:-1]).any() or not keys.all():
            raise ValueError("a vocabulary term's 64-bit hash is 0 or another term's")
        bits = max(10, (4 * len(terms)).bit_length())
        self.mask, self.shift = (1 << bits) - 1, np.uint64(64 - bits)
        size = self.mask + 1
        self.keys = np.zeros(size, dtype=np.uint64)
        self.columns = np.full(size, -1, dtype=np.int64)
        pending = np.arange(len(terms))
        slots = self._slots(keys)
        while len(pending):
            free = self.keys[slots[pending]] == 0
            _, first = np.unique(slots[pending[free]], return_index=True)
            placed = pending[free][first]
            self.keys[slots[placed]] = keys[placed]
            self.columns[slots[placed]] = placed
            left = np.ones(len(pending), dtype=bool)
            left[np.flatnonzero(free)[first]] = False
            pending = pending[left]
            slots[pending] = (slots[pending] + 1) & self.mask

    def _slots(self, keys: np.ndarray) -> np.ndarray:
        """First slot of each key: the top bits of key times the golden ratio (a polynomial hash's low bits cluster)."""
        return ((keys * _GOLDEN) >> self.shift).astype(np.int64)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """The column of each key; -1 where it is no term's."""
        slots = self._slots(keys)
        found = self.keys[slots]
        hit = found == keys
        out = np.where(hit, self.columns[slots], -1)
        # Most keys end at their first slot (a hit or an empty one); only the rest probe on.
        todo = np.flatnonzero(~hit & (found != 0))
        slots = slots[todo]
        while len(todo):
            slots = (slots + 1) & self.mask
            found = self.keys[slots]
            hit = found == keys[todo]
            out[todo[hit]] = self.columns[slots[hit]]
            going = ~hit & (found != 0)
            todo, slots = todo[going], slots[going]
        return out


def _owners(lengths: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(len(lengths)), lengths)


def _stacked(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, ...]:
    """Per-n (owner, start, end) arrays joined into one of each."""
    return tuple(np.concatenate([part[k] for part in parts]) if parts else np.zeros(0, np.int64) for k in range(3))


class Vectorizer:
    """One feature block: an analyzer, a fixed vocabulary and idf weights, rows L2-normalised.

    >>> v = Vectorizer("char_wb", (2, 3), [" g", "gas", "as "], np.ones(3), sublinear_tf=False)
    >>> v.transform(["Gas gas"]).toarray().astype(float).round(3).tolist()
    [[0.577, 0.577, 0.577]]
    """

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
        self.idf = np.asarray(idf, dtype=np.float64)
        self.sublinear_tf = sublinear_tf
        self.token_pattern = re.compile(token_pattern) if token_pattern else None
        self._index: _HashIndex | None = None  # built on first use, so a folder loads without it

    @classmethod
    def from_sklearn(cls, fitted) -> Vectorizer:
        terms = sorted(fitted.vocabulary_, key=fitted.vocabulary_.__getitem__)
        return cls(fitted.analyzer, fitted.ngram_range, terms, fitted.idf_, fitted.sublinear_tf, fitted.token_pattern)

    def _grams(self, texts: Sequence[str]) -> tuple[_Codes, np.ndarray, np.ndarray, np.ndarray]:
        """The batch as one string, and (owner text, start, end) of every n-gram occurrence in it."""
        lowered = [text.lower() for text in texts]
        if self.analyzer == "word":
            return self._word_grams(lowered)
        if self.analyzer == "char_wb":
            # Each word padded with spaces, as scikit-learn pads it; two spaces between words keep every pad its own.
            strings = [f" {'  '.join(words)} " if (words := text.split()) else "" for text in lowered]
        else:
            strings = [_WHITE_SPACES.sub(" ", text) for text in lowered]
        lengths = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
        joined = _Codes("".join(strings))
        owner = _owners(lengths)
        text_end = np.cumsum(lengths)[owner] if len(owner) else owner
        spaces = np.zeros(len(owner) + 1, dtype=np.int64)
        is_space = joined.codes == _SPACE
        np.cumsum(is_space, out=spaces[1:])
        positions = np.arange(len(owner))
        parts = []
        # char_wb: a word shorter than the smallest n still counts once, as its whole padded form.
        sizes = range(min(self.low, 3) if self.analyzer == "char_wb" else self.low, self.high + 1)
        for n in sizes:
            starts = np.flatnonzero(positions + n <= text_end)
            if self.analyzer == "char_wb":
                interior = spaces[starts + n - 1] - spaces[np.minimum(starts + 1, starts + n - 1)]
                keep = interior == 0
                if n == 2:
                    keep &= ~(is_space[starts] & is_space[starts + 1])
                if n < self.low:  # only a whole padded word
                    keep &= is_space[starts] & is_space[starts + n - 1]
                starts = starts[keep]
            parts.append((owner[starts], starts, starts + n))
        return (joined, *_stacked(parts))

    def _word_grams(self, lowered: list[str]) -> tuple[_Codes, np.ndarray, np.ndarray, np.ndarray]:
        found = [self.token_pattern.findall(text) for text in lowered]
        counts = np.fromiter(map(len, found), dtype=np.int64, count=len(found))
        tokens = list(chain.from_iterable(found))
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        # Tokens joined by single spaces: an n-gram term is the slice from its first token to its last.
        joined = _Codes(" ".join(tokens))
        token_start = np.cumsum(lengths + 1) - lengths - 1
        token_owner = _owners(counts)
        parts = []
        for n in range(self.low, self.high + 1):
            first = np.arange(max(len(tokens) - n + 1, 0))
            first = first[token_owner[first] == token_owner[first + n - 1]]
            parts.append((token_owner[first], token_start[first], token_start[first + n - 1] + lengths[first + n - 1]))
        return (joined, *_stacked(parts))

    def transform(self, texts: Sequence[str]):
        from scipy.sparse import csr_matrix

        if self._index is None:
            self._index = _HashIndex(self.terms)
        joined, rows, starts, ends = self._grams(texts)
        columns = self._index.lookup(joined.hashes(starts, ends)) if len(starts) else starts
        known = columns >= 0
        rows, columns = rows[known], columns[known]
        # Duplicate (row, column) pairs are summed: the term counts.
        matrix = csr_matrix((np.ones(len(columns)), (rows, columns)), shape=(len(texts), len(self.terms)))
        matrix.sum_duplicates()
        if self.sublinear_tf:
            matrix.data = np.log(matrix.data) + 1
        matrix.data *= self.idf[matrix.indices]
        owner = np.repeat(np.arange(len(texts)), np.diff(matrix.indptr))
        norms = np.sqrt(np.bincount(owner, weights=matrix.data**2, minlength=len(texts)))
        matrix.data /= np.where(norms > 0, norms, 1.0)[owner]
        return matrix.astype(np.float32)
