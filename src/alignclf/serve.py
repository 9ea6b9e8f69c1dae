"""`alignclf serve`: MLflow's own model server over an alignclf model, offline, with project defaults."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

from alignclf.models import load_folder
from alignclf.pyfunc import ENTRY, PACKAGE
from alignclf.resolve import default_model
from alignclf.routing import RouterError, is_router, read_router
from alignclf.tracking import DEFAULT_TRACKING_URI, save_pyfunc


def serve_command(uri: str, port: int, host: str, workers: int) -> list[str]:
    """`mlflow models serve` with the local environment: no package resolution, no network."""
    return [
        sys.executable, "-m", "mlflow", "models", "serve", "-m", uri,
        "--env-manager", "local", "-p", str(port), "-h", host, "-w", str(workers),
    ]  # fmt: skip


def serve(model: str | None = None, port: int = 5000, host: str = "127.0.0.1", workers: int = 1) -> int:
    """Serve `model` (folder or MLflow URI; default as for `predict`) until stopped; returns the exit code.

    A model folder is wrapped as a pyfunc model in a temporary directory first, so any folder
    can be served, logged or not. The server runs in its own process group: SIGTERM or SIGINT
    to `alignclf serve` stops every process it started (MLflow, uvicorn and its workers).
    """
    spec = model or default_model()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    # MLflow starts `uvicorn` by name: find it beside this interpreter even when the venv is not activated.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("MLFLOW_TRACKING_URI", DEFAULT_TRACKING_URI)
    with tempfile.TemporaryDirectory(prefix="alignclf-serve-") as scratch:
        folder = Path(spec)
        if is_router(folder):
            _, routes = read_router(folder)
            if any(":/" in route for route in routes):
                raise RouterError(f"{folder}: serving a router needs model folders as routes, not MLflow URIs")
            kinds = [load_folder(route)[1].kind for route in routes]  # broken folders fail here, not in the server
            kind = "transformer" if "transformer" in kinds else kinds[0]
            spec = str(save_pyfunc(folder.resolve(), Path(scratch) / "pyfunc", ENTRY, PACKAGE, kind, [Path(r) for r in routes]))
        elif folder.is_dir():
            _, card, _ = load_folder(folder)  # a broken folder fails here, not inside the server
            spec = str(save_pyfunc(folder.resolve(), Path(scratch) / "pyfunc", ENTRY, PACKAGE, card.kind))
        print(f"serving {model or spec} on http://{host}:{port}/invocations", file=sys.stderr, flush=True)
        return run_group(serve_command(spec, port, host, workers), env)


def run_group(command: list[str], env: dict[str, str], grace: float = 8.0) -> int:
    """Run `command` in a new process group; forward SIGTERM and SIGINT to the whole group, then reap it."""
    import signal
    import subprocess

    process = subprocess.Popen(command, env=env, start_new_session=True)
    stopping: list[int] = []

    def forward(signum: int, frame: object) -> None:
        stopping.append(signum)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = process.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _reap(process.pid, grace)
    return 0 if stopping else code


def _reap(group: int, grace: float) -> None:
    """Wait for every process of the group to end, killing what is left after `grace` seconds."""
    import signal
    import time

    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
