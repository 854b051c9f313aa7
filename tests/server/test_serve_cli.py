"""`acn serve` on an empty data directory trains, registers and serves; the second start skips training."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.server.conftest import IMAGE_SIZE
from tests.server import image_files

TINY_MODEL = {
    "image_size": IMAGE_SIZE,
    "encoder_channels": [8, 8],
    "encoder_strides": [2, 2],
    "prior_hidden": 32,
    "decoder_blocks": 1,
    "decoder_filters": 8,
    "conditioning_channels": 4,
}
TINY_TRAIN = {"batch_size": 16, "kl_warmup_steps": 5, "checkpoint_every": 10}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_serve(data_dir: Path, port: int, log: Path) -> subprocess.Popen:
    environment = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "ACN_BOOTSTRAP_DATA": "digits",
        "ACN_BOOTSTRAP_STEPS": "10",
        "ACN_BOOTSTRAP_MODEL": json.dumps(TINY_MODEL),
        "ACN_BOOTSTRAP_TRAIN": json.dumps(TINY_TRAIN),
    }
    command = [sys.executable, "-m", "cli", "serve", "--data-dir", str(data_dir), "--port", str(port), "--quiet"]
    with open(log, "ab") as output:
        return subprocess.Popen(command, env=environment, stdout=output, stderr=subprocess.STDOUT)


def wait_ready(process: subprocess.Popen, url: str, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        assert process.poll() is None, "acn serve exited during start-up"
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return time.monotonic() - start
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"acn serve was not ready within {timeout} s")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=20)


def test_first_start_trains_then_serves(tmp_path):
    data_dir, log = tmp_path / "data", tmp_path / "serve.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_serve(data_dir, port, log)
    try:
        wait_ready(process, url, timeout=180)
        versions = httpx.get(url + "/api/models", timeout=10).json()["versions"]
        files = [("files", ("digit.png", image_files.digit_png(), "image/png"))]
        encoded = httpx.post(url + "/api/encode", files=files, timeout=30)
    finally:
        stop(process)
    assert len(versions) == 1
    assert (data_dir / "bundles" / "bootstrap" / "manifest.json").is_file()
    assert encoded.status_code == 200
    first_log = log.read_text()
    assert "no model registered yet" in first_log

    process = start_serve(data_dir, port, log)
    try:
        wait_ready(process, url, timeout=60)
        versions_again = httpx.get(url + "/api/models", timeout=10).json()["versions"]
    finally:
        stop(process)
    assert log.read_text().count("no model registered yet") == 1
    assert [version["version"] for version in versions_again] == [versions[0]["version"]]
