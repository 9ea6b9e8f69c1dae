"""The logged MLflow model: it carries alignclf's code and loads from its own requirements in a fresh venv."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from alignclf.pyfunc import frame_to_records

pytestmark = pytest.mark.slow

TEXTS = ["Police seized 300 kg of heroin at the Tajik border.", "The striker scored twice on Sunday."]
PREDICT = (
    "import json, sys\n"
    "import mlflow, pandas as pd\n"
    "model = mlflow.pyfunc.load_model(sys.argv[1])\n"
    "out = model.predict(pd.DataFrame({'id': ['a', 'b'], 'text': json.loads(sys.argv[2])}))\n"
    "print(json.dumps(out[['id', 'pillars', 'sectors']].to_dict('records')))\n"
)


def test_rows_become_records_with_metadata_and_positional_ids():
    frame = pd.DataFrame({"text": ["Gas flows.", None], "title": ["Pipeline", float("nan")], "url": ["https://x/1", None]})
    first, second = frame_to_records(frame)
    assert (first.id, first.title, first.url) == ("row:0", "Pipeline", "https://x/1")
    assert second.text is None and "field 'text' is float" in second.error


def test_the_logged_model_loads_and_predicts_in_a_fresh_venv(tiny_run, tiny_tagger, tmp_path):
    import mlflow

    model = Path(mlflow.artifacts.download_artifacts(f"runs:/{tiny_run[1].run_id}/model", dst_path=str(tmp_path / "download")))
    assert (model / "code" / "alignclf" / "tagger.py").is_file(), "alignclf travels with the model"
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    requirements = model / "requirements.txt"
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", str(requirements)],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    alone = subprocess.run([python, "-c", "import alignclf"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert alone.returncode != 0, "the fresh venv must not see the development install"
    run = subprocess.run(
        [python, "-c", PREDICT, str(model), json.dumps(TEXTS)], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    expected = [p.to_dict() for p in tiny_tagger.predict(TEXTS)]
    assert [(g["pillars"], g["sectors"]) for g in got] == [(e["pillars"], e["sectors"]) for e in expected]
