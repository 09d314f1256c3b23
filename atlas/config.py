"""The atlas' configuration: one pydantic-settings object read from `ATLAS_*` variables.

The defaults give the embedded mode: an SQLite file in the data folder, no broker (jobs run
on a thread inside the API process), CPU or the first GPU. Set `ATLAS_DATABASE_URL`
(PostgreSQL) and `ATLAS_BROKER_URL` (Redis) to run the service with Celery workers.

`api_key`: writes (POST) require this key in the `X-API-Key` header. When it is unset, every
write is refused with 403 -- a fresh install is read-only rather than open to anyone.

Admission control (atlas.training.admission): a job whose estimated memory exceeds
`max_job_memory_bytes` (default: half of this machine's memory) or whose estimated work exceeds
`max_job_work` multiply-adds (default: a day of every core at `work_rate`) is refused.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
_DATABASE_SCHEMES = ("sqlite", "postgresql")
#: Multiply-adds per second one core trains at (benchmarks/admission.py measures it: 0.9e9 to
#: 5.1e9 over its grid, 1.2e9 to 1.7e9 for most shapes, on one thread of this project's 2-core
#: AMD EPYC development machine while it was shared with other work).
WORK_RATE = 2e9
JOB_DAY_SECONDS = 24 * 3600


def machine_memory_bytes() -> int:
    """Physical memory of this machine."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def default_data_dir() -> Path:
    """The user's data folder for the atlas: absolute, the same from any working directory."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "atlas"


def _default_work_limit() -> int:
    return int(WORK_RATE * (os.cpu_count() or 1) * JOB_DAY_SECONDS)


class Settings(BaseSettings):
    """Everything the service reads from its environment (prefix `ATLAS_`)."""

    model_config = SettingsConfigDict(env_prefix="ATLAS_", extra="ignore")

    data_dir: Path = Field(
        default_factory=lambda: default_data_dir(),
        description=(
            "Folder for the SQLite file and other local state (default: $XDG_DATA_HOME/atlas, "
            "else ~/.local/share/atlas; never a folder of wherever a command happens to run). "
            "A relative path is taken from the working directory once, when read."
        ),
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; empty means sqlite:///<data_dir>/atlas.db.",
    )
    broker_url: str | None = Field(
        default=None, description="Celery broker (redis://...); None runs jobs in-process."
    )
    queue: str = Field(
        default="atlas", description="Celery queue the API sends to and workers read."
    )
    broker_visibility_timeout: int = Field(
        default=12 * 3600,
        gt=0,
        description=(
            "Seconds before an unacknowledged task is given to another worker. It must exceed "
            "the longest training job, or a running job is delivered twice (harmless, but wasted)."
        ),
    )
    api_key: str | None = Field(
        default=None, description="Key required for writes; None refuses every write."
    )
    device: str = Field(default="auto", description="auto, cpu, cuda or cuda:N.")
    torch_threads: int | None = Field(
        default=None,
        ge=1,
        description=(
            "CPU threads torch uses in each worker process; None keeps torch's default. Small "
            "networks train fastest on one thread, especially on a busy machine."
        ),
    )

    max_job_memory_bytes: int = Field(
        default_factory=lambda: machine_memory_bytes() // 2,
        gt=0,
        description="Largest estimated peak memory of a job accepted (default: half the RAM).",
    )
    max_job_work: int = Field(
        default_factory=_default_work_limit,
        gt=0,
        description=(
            "Largest estimated work of a job accepted, in multiply-adds (default: a day of "
            "every core at work_rate)."
        ),
    )
    work_rate: float = Field(
        default=WORK_RATE,
        gt=0,
        allow_inf_nan=False,
        description="Multiply-adds per second of one core, to state an estimate as time.",
    )

    work_lease_s: float = Field(
        default=300.0,
        gt=0,
        allow_inf_nan=False,
        description=(
            "Seconds a running job or study may go without its worker's heartbeat (sent every "
            "tenth of this) before another worker gives it back: queued again, or cancelled "
            "when a cancel waits (atlas.store.leases). With a broker only."
        ),
    )
    job_time_limit_s: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description=(
            "Seconds a job or study may run, over all its attempts; None: no limit. At the "
            "limit it stops within a minibatch and keeps the networks it had finished."
        ),
    )
    training_slots: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Embedded mode: jobs and studies trained at once; None: one per 4 cores, at least "
            "1. Analyses and imports have a lane of their own (one per 2 cores, at least 1)."
        ),
    )

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        if not _DEVICE.match(value):
            raise ValueError(f"device must be auto, cpu, cuda or cuda:N, not {value!r}")
        return value

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("broker_url", "api_key")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'atlas.db').resolve()}"
        scheme = self.database_url.split(":", 1)[0].split("+", 1)[0]
        if scheme not in _DATABASE_SCHEMES:
            raise ValueError(
                f"database_url must be sqlite or postgresql, not {self.database_url!r}"
            )
        return self

    @property
    def embedded(self) -> bool:
        """True when no broker is configured: jobs run on a thread of the serving process."""
        return self.broker_url is None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process' settings, read once; `get_settings.cache_clear()` re-reads the environment."""
    return Settings()
