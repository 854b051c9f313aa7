"""Fixtures: a tiny bundle built once, and a real uvicorn server on 127.0.0.1 serving it from a SQLite file."""

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from server.app import create_app
from server.settings import Settings
from training.config import TrainConfig, preset_config
from training.data import load_dataset
from training.export import export_bundle
from training.train import Trainer

IMAGE_SIZE = 12
ADMIN_TOKEN = "test-admin-token"
LIMITS = {
    "max_upload_bytes": 300_000,
    "max_request_bytes": 2_000_000,
    "max_image_pixels": 1_000_000,
    "max_batch": 300,
    "max_neighbours": 20,
    "max_daydream_length": 200,
    "max_samples": 6,
}


def tiny_digits_config(steps: int = 20) -> TrainConfig:
    """A model small enough to train in seconds on the 8x8 digits, resized to 12x12."""
    config = preset_config("cpu")
    config.data = "digits"
    config.model.image_size = IMAGE_SIZE
    config.model.encoder_channels = (8, 8)
    config.model.encoder_strides = (2, 2)
    config.model.prior_hidden = 32
    config.model.decoder_blocks = 1
    config.model.decoder_filters = 8
    config.model.conditioning_channels = 4
    config.batch_size = 16
    config.steps = steps
    config.minutes = None
    config.kl_warmup_steps = 5
    config.checkpoint_every = steps
    return TrainConfig.from_dict(config.to_dict())


def build_bundle(directory: Path, seed: int = 0) -> Path:
    config = tiny_digits_config()
    config.seed = seed
    dataset = load_dataset(config.data, image_size=IMAGE_SIZE, binarize=config.binarize)
    Trainer(config, dataset, directory / "run").run(show_progress=False)
    return export_bundle(directory / "run", directory / "bundle", show_progress=False)


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bundle(tmp_path_factory.mktemp("tiny"))


class ServerThread:
    """uvicorn serving an app in a background thread on a socket bound to 127.0.0.1."""

    def __init__(self, app: object) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.thread.is_alive():
                raise RuntimeError("the server thread exited during start-up; see the log above")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"server at {self.url} was not ready within {timeout} s")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.socket.close()


def make_settings(data_dir: Path, bundle: Path, **overrides: object) -> Settings:
    return Settings(data_dir=data_dir, bundle=bundle, admin_token=ADMIN_TOKEN, **{**LIMITS, **overrides})


@pytest.fixture(scope="session")
def server_settings(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(tmp_path_factory.mktemp("data"), tiny_bundle)


@pytest.fixture(scope="session")
def live_server(server_settings: Settings) -> Iterator[ServerThread]:
    server = ServerThread(create_app(server_settings))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(live_server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        yield http
