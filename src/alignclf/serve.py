"""`alignclf serve`: MLflow's own model server over an alignclf model, offline, with project defaults."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from alignclf.models import load_folder
from alignclf.pyfunc import ENTRY, PACKAGE
from alignclf.resolve import default_model
from alignclf.tracking import DEFAULT_TRACKING_URI, save_pyfunc


def serve_command(uri: str, port: int, host: str, workers: int) -> list[str]:
    """`mlflow models serve` with the local environment: no package resolution, no network."""
    return [
        sys.executable, "-m", "mlflow", "models", "serve", "-m", uri,
        "--env-manager", "local", "-p", str(port), "-h", host, "-w", str(workers),
    ]  # fmt: skip


def serve(model: str | None = None, port: int = 5000, host: str = "127.0.0.1", workers: int = 1) -> int:
    """Serve `model` (folder or MLflow URI; default as for `predict`) until stopped; returns the exit code.

    A model folder is wrapped as a pyfunc model in a temporary directory first, so any
    folder can be served, logged or not.
    """
    import subprocess

    spec = model or default_model()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    # MLflow starts `uvicorn` by name: find it beside this interpreter even when the venv is not activated.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("MLFLOW_TRACKING_URI", DEFAULT_TRACKING_URI)
    with tempfile.TemporaryDirectory(prefix="alignclf-serve-") as scratch:
        folder = Path(spec)
        if folder.is_dir():
            _, card, _ = load_folder(folder)  # a broken folder fails here, not inside the server
            spec = str(save_pyfunc(folder.resolve(), Path(scratch) / "pyfunc", ENTRY, PACKAGE, card.kind))
        print(f"serving {model or spec} on http://{host}:{port}/invocations", file=sys.stderr, flush=True)
        try:
            return subprocess.call(serve_command(spec, port, host, workers), env=env)
        except KeyboardInterrupt:
            return 0
