"""The executor on Dask distributed: a local cluster of worker processes, or a running cluster's scheduler.

Each chunk is one Dask task. What a task needs travels with it (its chunk) or is scattered to
every worker once (`shared`): workers on another machine share no folder with the run. A
worker that dies (killed, out of memory) loses nothing: the scheduler runs its tasks again on
the others. Workers keep their word caches between steps, so later steps start warm. Dask is
imported when a cluster is first needed: a small night never pays for it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from executor import collect_garbage_rarely

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger(__name__)

Result = TypeVar("Result")

CONNECT_TIMEOUT_S = 10.0


class ClusterUnreachable(RuntimeError):
    """No Dask scheduler answered at the address given."""


def cluster_failure(error: BaseException) -> str | None:
    """What went wrong, in one line, when `error` (or an error it came from) is Dask's: a scheduler or its workers
    lost mid-run, a connection closed; None for anything else."""
    current: BaseException | None = error
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if type(current).__module__.split(".")[0] == "distributed" or isinstance(current, ClusterUnreachable):
            text = str(current).strip()
            return f"{type(current).__name__}: {text.splitlines()[0]}" if text else type(current).__name__
        current = current.__cause__ or current.__context__
    return None


def _set_up_workers(client: Client) -> None:
    """Each worker (and each one that joins later) set up as the run's own process: garbage collector thresholds."""
    from distributed import WorkerPlugin

    class RunSettings(WorkerPlugin):
        name = "storythreads-run-settings"

        def setup(self, worker: Any) -> None:
            collect_garbage_rarely()

    client.register_plugin(RunSettings())


def default_workers() -> int:
    """Worker processes of a local cluster by default: one per core but the run's own (which unpacks results,
    writes the store and runs the scheduler); none on a machine of one or two cores, where every step stays in
    the run's process (measured on two cores, 10,000 articles: in the run's process 80.9 s, two worker
    processes 94.3 s; see docs/measurements.md)."""
    cores = os.cpu_count() or 1
    return 0 if cores <= 2 else cores - 1


def _import(modules: Sequence[str]) -> None:
    for module in modules:
        importlib.import_module(module)


def check_address(address: str) -> str:
    """`address` if it looks like a Dask scheduler address (`tcp://HOST:PORT`), else a ValueError naming it."""
    address = address.strip()
    if "://" not in address or not address.split("://", 1)[1]:
        raise ValueError(f"a Dask cluster address looks like tcp://HOST:8786, got {address!r}")
    return address


def connect(address: str, timeout: float = CONNECT_TIMEOUT_S) -> Client:
    """A client of the running Dask scheduler at `address`; `ClusterUnreachable` naming it if none answers."""
    from distributed import Client

    address = check_address(address)
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise ClusterUnreachable(
            f"no Dask scheduler answered at {address} within {timeout:g} s ({error}); "
            "start one with `dask scheduler` and `dask worker ADDRESS`, or leave --cluster out to use this machine"
        ) from error
    _set_up_workers(client)
    return client


def local_cluster(workers: int) -> Client:
    """A new cluster on this machine: `workers` processes of one thread each (the steps hold the GIL)."""
    from distributed import Client, LocalCluster

    dashboard = ":0" if importlib.util.find_spec("bokeh") is not None else None
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=dashboard,
        host="127.0.0.1",
        silence_logs=logging.ERROR,
    )
    client = Client(cluster, set_as_default=False)
    _set_up_workers(client)
    return client


def _preload(client: Client, modules: Sequence[str]) -> None:
    """Have every worker import `modules`; a courtesy: a cluster closed meanwhile (a short run) loses nothing."""
    with contextlib.suppress(Exception):
        client.run(_import, modules)


class DaskExecutor:
    """Chunks as Dask tasks, on the cluster at `address` or, without one, on a local cluster of `workers`.

    The cluster is started (or connected to) on first use, or earlier by `start` (from another
    thread, while the run does something else); `close` stops a local cluster.
    """

    def __init__(self, address: str | None = None, workers: int | None = None, preload: Sequence[str] = ()) -> None:
        self.address = check_address(address) if address else None
        if workers is not None and workers < 1:
            raise ValueError(f"a local cluster needs at least 1 worker, got {workers}")
        self.local_workers = workers or max(1, default_workers())
        self.preload = tuple(preload)
        """Modules each worker imports as soon as it is up, while the run does other things."""
        self._client: Client | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Client:
        """The started client (starting the cluster or connecting to it if need be)."""
        with self._lock:
            if self._client is None:
                self._client = connect(self.address) if self.address else local_cluster(self.local_workers)
                where = self.address or f"a local cluster of {self.local_workers} worker processes"
                services = self._client.scheduler_info().get("services", {})
                link = self._client.dashboard_link if "dashboard" in services else "none (bokeh is not installed)"
                log.info("Dask: %s; dashboard: %s", where, link)
                if self.preload:  # in the background: the run goes on while the workers import
                    threading.Thread(target=_preload, args=(self._client, self.preload), daemon=True).start()
            return self._client

    def start(self) -> None:
        """Start the cluster (or connect) now, so that the first step does not wait for it."""
        self.client.wait_for_workers(1)

    @property
    def workers(self) -> int:
        """Threads across the cluster's workers (before it starts: the local cluster's size)."""
        if self._client is None:
            return self.local_workers if self.address is None else 1
        return max(1, sum(self._client.nthreads().values()))

    def worker_pids(self) -> dict[str, int]:
        """Each worker's address and process id (local or loopback clusters; for tests and tools)."""
        return self.client.run(os.getpid)

    def map(self, step: Callable[..., Result], chunks: Sequence[Any], shared: Any = None) -> list[Result]:
        client = self.client
        if shared is None:
            futures = client.map(step, list(chunks), pure=False)
            return client.gather(futures)
        on_workers = client.scatter(shared, broadcast=True, hash=False)
        try:
            futures = client.map(step, list(chunks), [on_workers] * len(chunks), pure=False)
            return client.gather(futures)
        finally:
            on_workers.release()

    def close(self) -> None:
        """Disconnect; a local cluster's workers are stopped."""
        with self._lock:
            client, self._client = self._client, None
        if client is None:
            return
        cluster = client.cluster
        with contextlib.suppress(Exception):  # a cluster already gone is closed enough
            client.close()
            if cluster is not None:
                cluster.close()
