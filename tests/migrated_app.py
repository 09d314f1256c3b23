"""The API on a freshly migrated database of one backend, for the API test modules."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient
from throwaway_databases import database

from api.app import create_app
from atlas.config import Settings
from atlas.store import migrate


@contextmanager
def migrated_app_client(backend: str, folder: Path, api_key: str) -> Iterator[TestClient]:
    """A TestClient whose jobs and analyses run in-process on one CPU thread (the CPU, also
    where a GPU is present: the trained populations' recipes were measured there)."""
    with database(backend, folder) as url:
        migrate(url)
        settings = Settings(
            database_url=url, api_key=api_key, data_dir=folder, torch_threads=1, device="cpu"
        )
        with TestClient(create_app(settings)) as client:
            yield client
