"""Operation: when ``dynaudit serve`` runs a config (``schedule:``) and where models train (``runner:``)."""

import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from audit_core.config.base import StrictModel, kinds

_CRON = re.compile(r"^\S+( \S+){4}$")
_SCHEDULER_ADDRESS = re.compile(r"^(tcp|tls)://\S+:\d+$")


class ScheduleConfig(StrictModel):
    """When ``dynaudit serve`` runs this audit: a cron expression read in a time zone."""

    cron: str = Field(
        description="A five-field cron expression (minute hour day month weekday), e.g. '0 2 * * *' for "
        "02:00 every day."
    )
    timezone: str = Field("UTC", description="IANA time zone the cron expression is read in.")
    active: bool = Field(True, description="False registers the schedule paused.")

    @field_validator("cron")
    @classmethod
    def _cron_has_five_fields(cls, value: str) -> str:
        value = " ".join(value.split())
        if not _CRON.match(value):
            raise ValueError("must have five fields: minute hour day-of-month month day-of-week")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone_is_known(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone name such as UTC or Europe/Berlin") from None
        return value


class ThreadsRunnerConfig(StrictModel):
    """Reference models train in the flow's own process, one group after another (Prefect's thread pool)."""

    kind: Literal["threads"] = "threads"


class DaskRunnerConfig(StrictModel):
    """Reference models train as Prefect tasks on a Dask cluster: the scheduler at ``address``, or else a
    local cluster of ``n_workers`` processes started for the run."""

    kind: Literal["dask"] = "dask"
    address: str | None = Field(
        None,
        description="Address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786; empty starts a "
        "local cluster.",
    )
    n_workers: int | None = Field(
        None, ge=1, le=1024, description="Local cluster: worker processes; empty gives one per CPU core."
    )
    threads_per_worker: int = Field(1, ge=1, le=256, description="Local cluster: threads per worker.")

    @field_validator("address")
    @classmethod
    def _address_names_a_scheduler(cls, address: str | None) -> str | None:
        if address is not None and not _SCHEDULER_ADDRESS.match(address):
            raise ValueError("must be a Dask scheduler address such as tcp://10.0.0.5:8786")
        return address

    @model_validator(mode="after")
    def _address_or_local_cluster(self) -> "DaskRunnerConfig":
        local = self.model_fields_set & {"n_workers", "threads_per_worker"}
        if self.address is not None and local:
            raise ValueError(
                f"give either address (an existing scheduler) or {' and '.join(sorted(local))} (a local "
                "cluster), not both"
            )
        return self


RunnerConfig = kinds("threads", ThreadsRunnerConfig, DaskRunnerConfig)
