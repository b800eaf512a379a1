"""The nightly deployment: the storythreads flow on a cron schedule, reading an inbox folder and feeds."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from executor.dask import check_address
from flows.pipeline import storythreads_flow

DEPLOYMENT_NAME = "nightly"


def nightly_deployment(
    inbox: Path,
    cron: str = "0 2 * * *",
    timezone: str = "UTC",
    name: str = DEPLOYMENT_NAME,
    home: Path | None = None,
    db: str | None = None,
    encoder: str | None = None,
    cluster: str | None = None,
    feeds: list[str] | None = None,
) -> RunnerDeployment:
    """The deployment object: schedule, parameters (the inbox, feed and article URLs, the store) and one run at
    a time."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {timezone!r}; expected an IANA name such as 'Asia/Amman' or 'UTC'"
        ) from None
    if len(cron.split()) != 5:
        raise ValueError(f"cron expression {cron!r} has {len(cron.split())} fields; expected 5, e.g. '0 2 * * *'")
    for url in feeds or []:
        if urlsplit(url).scheme.lower() not in ("http", "https") or not urlsplit(url).netloc:
            raise ValueError(f"feed {url!r} is not an http(s) URL; expected e.g. https://example.com/rss.xml")
    parameters: dict[str, object] = {"paths": [str(Path(inbox).resolve()), *(feeds or [])]}
    if home is not None:
        parameters["home"] = str(Path(home).expanduser().resolve())
    if db is not None:
        parameters["db"] = db
    if encoder is not None:
        parameters["encoder"] = encoder
    if cluster is not None:
        parameters["cluster"] = check_address(cluster)
    try:
        schedule = Cron(cron, timezone=timezone)
    except Exception as error:  # noqa: BLE001 - Prefect raises pydantic errors for bad cron strings
        raise ValueError(f"cron expression {cron!r} is not valid: {error}") from None
    return storythreads_flow.to_deployment(
        name=name,
        schedules=[schedule],
        parameters=parameters,
        concurrency_limit=1,
        description=f"storythreads nightly run over {inbox}",
        tags=["storythreads"],
    )


def serve_nightly(inbox: Path, **options: object) -> None:
    """Register the nightly deployment on the Prefect API and run its flow runs until interrupted."""
    from prefect import serve

    serve(nightly_deployment(inbox, **options))  # type: ignore[arg-type]
