"""Batch tagging into a JSONL output: streamed batches, one writer per file, resume by position, the run's summary."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TextIO

from alignclf.errors import AlignclfError
from alignclf.feeds import FORMATS, FeedError, Fields, check_inputs, read_records
from alignclf.records import Record, tag_records
from alignclf.tagger import Tagger

REQUIRED = ("id", "pillars", "sectors", "model", "error")


class OutputError(AlignclfError, ValueError):
    """An output file that cannot be written or resumed; it is left as it was."""


def lock_path(output: Path) -> Path:
    return output.with_name(output.name + ".lock")


def check_output(output: Path) -> None:
    """Fail before any work on an output that cannot be a file: a folder, or inside a missing folder."""
    if output.is_dir():
        raise OutputError(f"-o {output} is a folder; give a file name such as {output / 'tags.jsonl'}")
    if not output.parent.is_dir():
        raise OutputError(f"-o {output}: folder {output.parent} does not exist")


@contextmanager
def exclusive(output: Path) -> Iterator[None]:
    """Hold the output's lock for the whole run: a second run on the same file fails at once."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(lock_path(output)), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise OutputError(f"another alignclf tag is writing {output} (lock {lock_path(output)}); wait for it to finish") from None
    try:
        yield
    finally:
        lock.release()


@dataclass
class Resume:
    """Where a killed run stopped: `lines` complete output lines, and the byte length they end at."""

    lines: int = 0
    keep_bytes: int = 0


def resume_point(output: Path, models: set[str]) -> Resume:
    """Check an existing output line by line, holding one line in memory; refuse a file this run did not write.

    Nothing is changed here: the cut of a last line left unfinished by a crash happens later.
    """
    if not output.exists():
        return Resume()
    lines, kept = 0, 0
    with output.open("rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                break  # a last line cut short by a crash
            lines += 1
            where = f"{output}:{lines}"
            try:
                line = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise OutputError(f"cannot resume: {where} is not a JSON line of tag output; the file is unchanged") from None
            if not isinstance(line, dict) or not all(key in line for key in REQUIRED):
                raise OutputError(f"cannot resume: {where} is not tag output (it lacks {list(REQUIRED)}); the file is unchanged")
            if line["model"] not in models:
                raise OutputError(
                    f"cannot resume: {where} was tagged by model {line['model']!r}, this run uses {' or '.join(sorted(models))}; "
                    "the file is unchanged (write to a new file, or rerun without --resume)"
                )
            kept += len(raw)
    return Resume(lines, kept)


def skip_done(records: Iterator[Record], output: Path, resume: Resume) -> Iterator[Record]:
    """The input after the records already in the output, checking that their ids match line by line."""
    with output.open("rb") as handle:
        for number, raw in enumerate(islice(handle, resume.lines), start=1):
            written = json.loads(raw)["id"]
            record = next(records, None)
            if record is None:
                raise OutputError(f"cannot resume: {output} has {resume.lines} lines but the input has only {number - 1} records")
            if record.id != written:
                raise OutputError(
                    f"cannot resume: {output}:{number} has id {written!r} but input record {number} has id {record.id!r}; "
                    "the output was written from other input; the file is unchanged"
                )
    return records


def cut_unfinished_line(output: Path, resume: Resume) -> None:
    with output.open("rb+") as handle:
        handle.truncate(resume.keep_bytes)


@dataclass
class Summary:
    read: int = 0
    tagged: int = 0
    errors: int = 0
    skipped: int = 0
    warnings: int = 0
    seconds: float = 0.0
    labels: Counter = field(default_factory=Counter)
    languages: Counter = field(default_factory=Counter)

    def add(self, lines: list[dict]) -> None:
        for line in lines:
            self.warnings += bool(line.get("warning"))
            if line["error"]:
                self.errors += 1
            else:
                self.tagged += 1
                self.labels.update(line["pillars"] + line["sectors"])
                self.languages[line.get("language") or "none"] += 1

    def merge(self, other: Summary) -> None:
        self.read, self.tagged, self.errors = self.read + other.read, self.tagged + other.tagged, self.errors + other.errors
        self.warnings += other.warnings
        self.labels.update(other.labels)
        self.languages.update(other.languages)

    def text(self) -> str:
        rate = self.tagged / self.seconds if self.seconds else 0.0
        lines = [
            f"records read: {self.read}; tagged: {self.tagged}; errors: {self.errors}; warnings: {self.warnings}; "
            f"skipped (already in output): {self.skipped}; {rate:.1f} articles/s"
        ]
        if self.languages:
            lines.append("articles per language: " + ", ".join(f"{k} {v}" for k, v in self.languages.most_common()))
        if self.labels:
            lines.append("articles per label: " + ", ".join(f"{k} {v}" for k, v in self.labels.most_common()))
        return "\n".join(lines)


def _batches(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


_WORKER: dict[str, object] = {}


def _tag_batch(tagger: Tagger, batch: list[Record], max_chars: int) -> tuple[str, Summary]:
    """A batch's output lines as text, and its counts."""
    lines = tag_records(tagger, batch, max_chars=max_chars)
    counts = Summary(read=len(batch))
    counts.add(lines)
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), counts


def _one_thread_each() -> None:
    """A worker has a core of its own: BLAS threads (the static and multilingual heads) would fight the other workers."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _tag_in_worker(batch: list[Record], max_chars: int) -> tuple[str, Summary]:
    return _tag_batch(_WORKER["tagger"], batch, max_chars)  # the Tagger came with the fork


def _tagged_batches(tagger: Tagger, records: Iterable[Record], batch_size: int, max_chars: int, workers: int):
    """(output text, counts) per batch in input order; with `workers` > 1 forked processes tag the batches,
    at most two per worker in flight, so memory stays bounded."""
    if workers <= 1:
        for batch in _batches(records, batch_size):
            yield _tag_batch(tagger, batch, max_chars)
        return
    import multiprocessing
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    tagger.warm_up()
    _WORKER["tagger"] = tagger  # forked workers inherit the loaded, warmed model instead of loading it again
    pending: deque = deque()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"), initializer=_one_thread_each) as pool:
        for batch in _batches(records, batch_size):
            pending.append(pool.submit(_tag_in_worker, batch, max_chars))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def tag_feed(
    tagger: Tagger,
    records: Iterable[Record],
    out: TextIO,
    batch_size: int = 64,
    max_chars: int = 200_000,
    progress: bool = False,
    workers: int = 1,
) -> Summary:
    """Tag records batch by batch, writing and flushing each batch: memory stays flat, a crash loses one batch.

    `workers` processes tag batches side by side (for the kinds that score on one core: TF-IDF,
    static, multilingual); the output keeps input order.
    """
    from tqdm import tqdm

    summary = Summary()
    started = time.perf_counter()
    with tqdm(desc="tagging", unit=" articles", disable=not progress, file=sys.stderr) as bar:
        for text, counts in _tagged_batches(tagger, records, batch_size, max_chars, workers):
            summary.merge(counts)
            out.write(text)
            out.flush()
            bar.update(counts.read)
    summary.seconds = time.perf_counter() - started
    return summary


def tag_to_file(
    tagger: Tagger,
    records: Iterator[Record],
    output: Path,
    resume: bool = False,
    batch_size: int = 64,
    max_chars: int = 200_000,
    progress: bool = False,
    workers: int = 1,
) -> Summary:
    """`alignclf tag -o FILE`: locked, and with `resume` continued after the lines a killed run left."""
    check_output(output)
    with exclusive(output):
        point = resume_point(output, tagger.model_names) if resume else Resume()
        if point.lines:
            records = skip_done(records, output, point)
        if resume and output.exists():
            cut_unfinished_line(output, point)
        with output.open("a" if resume else "w", encoding="utf-8") as handle:
            summary = tag_feed(tagger, records, handle, batch_size, max_chars, progress, workers)
    summary.skipped = point.lines
    summary.read += point.lines
    return summary


def tag_inputs(
    inputs: list[str],
    output: Path | None,
    model: str | None,
    fmt: str = "auto",
    fields: Fields | None = None,
    resume: bool = False,
    batch_size: int = 64,
    max_chars: int = 200_000,
    progress: bool = False,
    workers: int = 1,
) -> Summary:
    """`alignclf tag` with the local engine: checks everything it can before loading the model, then streams."""
    from alignclf.resolve import load_model

    if fmt not in FORMATS:
        raise FeedError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    if resume and output is None:
        raise OutputError("--resume needs -o/--output")
    check_inputs(inputs)
    if output is not None:
        check_output(output)
    tagger = load_model(model)
    exclude = [output, lock_path(output)] if output is not None else []
    records = read_records(inputs, fmt, fields, max_chars, exclude)
    if output is None:
        return tag_feed(tagger, records, sys.stdout, batch_size, max_chars, progress, workers)
    return tag_to_file(tagger, records, output, resume, batch_size, max_chars, progress, workers)


__all__ = ["OutputError", "Summary", "lock_path", "tag_feed", "tag_inputs", "tag_to_file"]
