"""Load on `alignclf serve`: 16 concurrent clients, 480 one-article requests per model, on 127.0.0.1 only.

    python benchmarks/serve.py --models models/tfidf models/minilm [--clients 16] [--requests 480]

Each model gets its own server (started, pinged, then stopped with SIGTERM). Latency is the
client's wall time per request; a failure is any answer other than HTTP 200 with one
prediction. Writes benchmarks/results/serve.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def articles(count: int) -> list[dict]:
    rows = []
    for path in sorted((ROOT / "data" / "articles").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            article = json.loads(line)
            if article.get("lang", "en") == "en":
                rows.append(
                    {"id": article["id"], "title": article["title"], "text": " ".join(s["text"] for s in article["sentences"])}
                )
    return [rows[i % len(rows)] for i in range(count)]


def start(model: str, port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "alignclf.cli", "serve", "--model", model, "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import requests

    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/ping", timeout=1).status_code == 200:
                return process
        except requests.ConnectionError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit(f"server for {model} did not start")


def load(port: int, payloads: list[dict], clients: int) -> tuple[list[float], Counter, float]:
    """Latencies, failures by reason, and wall time; each client thread has its own session (one is not thread-safe)."""
    import requests

    local = threading.local()

    def one(payload: dict) -> tuple[float, str | None]:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        session = local.session
        started = time.perf_counter()
        try:
            answer = session.post(f"http://127.0.0.1:{port}/invocations", json={"dataframe_records": [payload]}, timeout=60)
            ok = answer.status_code == 200 and len(answer.json()["predictions"]) == 1
            failure = None if ok else f"HTTP {answer.status_code}: {answer.text[:120]}"
        except requests.RequestException as exc:
            failure = type(exc).__name__
        return time.perf_counter() - started, failure

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, payloads))
    failures = Counter(failure for _, failure in results if failure)
    return [seconds for seconds, _ in results], failures, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["models/tfidf"])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=480)
    args = parser.parse_args()
    payloads = articles(args.requests)
    rows = ["| model | requests | failures | requests/s | p50 (ms) | p99 (ms) |", "|---|---:|---:|---:|---:|---:|"]
    reasons: list[str] = []
    for model in args.models:
        port = free_port()
        server = start(model, port)
        try:
            load(port, payloads[:32], args.clients)  # warm-up: the first requests load lazy parts
            latencies, failures, wall = load(port, payloads, args.clients)
        finally:
            os.kill(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        p50, p99 = np.percentile(latencies, [50, 99]) * 1000
        count = sum(failures.values())
        rows.append(f"| {Path(model).name} | {len(payloads)} | {count} | {len(payloads) / wall:.1f} | {p50:.0f} | {p99:.0f} |")
        print(rows[-1], flush=True)
        reasons += [f"- {Path(model).name}: {n} x {reason}" for reason, n in failures.most_common()]
    text = [
        "# Serving under load",
        "",
        f"`python benchmarks/serve.py {' '.join(sys.argv[1:])}`: {args.clients} concurrent clients, one article "
        "(title and body) per request, `alignclf serve` with one worker, 2 CPU cores.",
        "",
        *rows,
        *(["", "Failures:", "", *reasons] if reasons else []),
    ]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "serve.md").write_text("\n".join(text) + "\n")
    print("\n".join(text))


if __name__ == "__main__":
    main()
