"""Twenty clients posting uploads while another connection writes model versions see no database error."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import update

from server.app import create_app
from server.db import make_engine, make_session_factory, transaction
from server.models import ModelVersion
from tests.server import image_files
from tests.server.conftest import ServerThread, make_settings

CLIENTS = 20
POSTS_PER_CLIENT = 3
VERSION_WRITES = 500  # upper bound; the writer stops when the clients are done


def write_versions(url: str, stop: threading.Event) -> int:
    """Insert model versions and move the active flag between them, as a second server process would."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    written = 0
    try:
        for index in range(VERSION_WRITES):
            if stop.is_set():
                break
            with transaction(sessions) as session:
                session.execute(update(ModelVersion).where(ModelVersion.active.is_(True)).values(active=None))
                session.add(ModelVersion(version=f"writer-{index}", bundle_path="/none", summary={}, active=True))
            written += 1
            time.sleep(0.005)  # spread the writes over the whole time the clients post
    finally:
        engine.dispose()
    return written


def post_uploads(url: str, client_index: int) -> list[int]:
    statuses = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for post in range(POSTS_PER_CLIENT):
            # Half the clients send the same digits, so that inserts of one content hash collide.
            digit = post if client_index % 2 else client_index * POSTS_PER_CLIENT + post
            files = [("files", (f"{digit}.png", image_files.digit_png(digit), "image/png"))]
            statuses.append(client.post("/api/encode", files=files).status_code)
    return statuses


def test_uploads_during_version_writes(tiny_bundle, tmp_path):
    settings = make_settings(tmp_path / "data", tiny_bundle)
    server = ServerThread(create_app(settings))
    server.start()
    stop = threading.Event()
    try:
        with ThreadPoolExecutor(CLIENTS + 1) as pool:
            writer = pool.submit(write_versions, settings.resolved_database_url, stop)
            posts = [pool.submit(post_uploads, server.url, index) for index in range(CLIENTS)]
            statuses = [status for future in posts for status in future.result(timeout=120)]
            stop.set()
            written = writer.result(timeout=60)
        versions = httpx.get(server.url + "/api/models", timeout=10).json()["versions"]
    finally:
        server.stop()
    assert statuses == [200] * CLIENTS * POSTS_PER_CLIENT
    assert written >= 2
    assert len([version for version in versions if version["active"]]) == 1
