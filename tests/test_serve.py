"""`alignclf serve` for real: MLflow's model server in a subprocess, queried over HTTP."""

import os
import socket
import subprocess
import sys
import time

import pytest
import requests

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_run):
    port = free_port()
    command = [sys.executable, "-m", "alignclf.cli", "serve", "--model", "models:/alignclf@champion", "--port", str(port)]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ), start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if requests.get(f"{url}/ping", timeout=1).status_code == 200:
                break
        except requests.ConnectionError:
            time.sleep(0.5)
        assert process.poll() is None, process.stderr.read().decode()
    else:
        pytest.fail("server did not start")
    yield url
    os.killpg(process.pid, 15)
    process.wait(timeout=30)


TEXTS = ["Police seized 300 kg of heroin at the Tajik border.", "Kazakhstan raised gas exports to China.\n\nThe match ended 2-2."]


def post(url, payload, **kwargs):
    return requests.post(f"{url}/invocations", json=payload, timeout=30, **kwargs)


def test_records_and_split_payloads_answer_with_the_taggers_tags(server, tiny_tagger):
    expected = [p.to_dict() for p in tiny_tagger.predict(TEXTS)]
    records = post(server, {"dataframe_records": [{"id": "a", "text": TEXTS[0]}, {"id": "b", "text": TEXTS[1]}]})
    assert records.status_code == 200
    answers = records.json()["predictions"]
    assert [a["id"] for a in answers] == ["a", "b"]
    for answer, want in zip(answers, expected):
        assert {k: answer[k] for k in want} == want
        assert answer["error"] is None and answer["model"] == "tiny"
    split = post(server, {"dataframe_split": {"columns": ["text"], "data": [[TEXTS[0]]]}})
    assert split.status_code == 200 and split.json()["predictions"][0]["sectors"] == expected[0]["sectors"]


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"dataframe_records": [{"body": "no text column"}]}, "missing inputs ['text']"),
        ({"dataframe_records": [{"text": "fine"}, {"text": 5}]}, "row 1: field 'text' must be a string"),
    ],
)
def test_malformed_requests_get_a_400_and_the_server_stays_up(server, payload, message):
    answer = post(server, payload)
    assert answer.status_code == 400 and message in answer.text
    assert requests.get(f"{server}/ping", timeout=5).status_code == 200


def test_empty_body_gets_a_400(server):
    answer = requests.post(f"{server}/invocations", data=b"", headers={"Content-Type": "application/json"}, timeout=30)
    assert answer.status_code == 400


@pytest.mark.parametrize("signum", [15, 2])
def test_stopping_serve_stops_every_process_it_started(tiny_run, signum):
    import psutil

    port = free_port()
    command = [sys.executable, "-m", "alignclf.cli", "serve", "--model", str(tiny_run[1].folder), "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/ping", timeout=1).status_code == 200:
                break
        except requests.ConnectionError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("server did not start")
    children = psutil.Process(process.pid).children(recursive=True)
    assert children, "the server runs in child processes"
    os.kill(process.pid, signum)  # the alignclf process alone, as a service manager or Ctrl-C would
    assert process.wait(timeout=10) == 0
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, [p.cmdline() for p in alive]
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/ping", timeout=1)
