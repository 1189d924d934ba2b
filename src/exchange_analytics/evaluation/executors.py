"""Where calibration tasks run: in this process, a local process pool, or a Dask cluster.

The same picklable tasks and the same pure task function everywhere, and results are put back
in task order, so every executor returns identical results (the tests compare them). Heavy work
goes to an existing distributed engine (Dask, SPEC §19); nothing here schedules by hand beyond
resubmitting what a dead worker lost.

* ``workers == 1``: in this process (no pickling, no pool).
* ``workers > 1``: :class:`concurrent.futures.ProcessPoolExecutor` with the ``forkserver``
  start method (forking a process that holds threads, such as a Dask client's, can deadlock).
  A worker that dies breaks the pool: the pool is rebuilt and the unfinished tasks are
  submitted again, up to ``retries`` times; then the run fails with one line.
* ``dask``: a ``distributed.Client`` on the scheduler's address. Dask itself reruns the tasks
  of a worker that died (up to its ``allowed-failures``, then ``KilledWorker``), and ``retries``
  reruns a task that raised.

Never hangs: when no task finishes for ``stall_seconds`` the run stops and says how many were
left. An unreachable scheduler is :class:`ExecutorUnavailable` (exit 1, one line).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import Field, dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from distributed import Client
    from distributed import Future as DaskFuture

from exchange_analytics.errors import ConfigurationError, ExchangeAnalyticsError

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[int, int], None]
S = TypeVar("S", bound="SharesInputs")
DEFAULT_RETRIES = 2
DEFAULT_STALL_SECONDS = 900.0
CONNECT_TIMEOUT_SECONDS = 10.0


class ExecutorUnavailable(ExchangeAnalyticsError):
    """The Dask scheduler could not be reached (exit 1: something outside is down)."""

    exit_code = 1


class TaskFailed(ExchangeAnalyticsError):
    """A task failed after its retries, or no task finished for too long."""

    exit_code = 1


@runtime_checkable
class SharesInputs(Protocol):
    """A dataclass task whose ``inputs`` (bars) several tasks share: sent to Dask once."""

    __dataclass_fields__: ClassVar[dict[str, Field[object]]]

    @property
    def inputs(self) -> object: ...


@dataclass(frozen=True, slots=True)
class ExecutorSpec:
    """Which executor: ``dask`` address if given, else ``workers`` local processes."""

    workers: int = 1
    dask: str | None = None
    retries: int = DEFAULT_RETRIES
    stall_seconds: float = DEFAULT_STALL_SECONDS

    def describe(self) -> str:
        if self.dask:
            return f"dask {self.dask}"
        return "in-process" if self.workers == 1 else f"{self.workers} worker processes"


def run_tasks(
    fn: Callable[[T], R],
    tasks: Sequence[T],
    spec: ExecutorSpec,
    progress: Progress | None = None,
) -> list[R]:
    """``[fn(task) for task in tasks]`` on the chosen executor, in task order."""
    if spec.workers < 1:
        raise ConfigurationError(f"--workers {spec.workers}: give at least 1")
    if spec.dask:
        return run_dask(fn, tasks, spec, progress)
    if spec.workers == 1:
        return run_inline(fn, tasks, progress)
    return run_pool(fn, tasks, spec, progress)


def run_inline(fn: Callable[[T], R], tasks: Sequence[T], progress: Progress | None) -> list[R]:
    results = []
    for done, task in enumerate(tasks, start=1):
        results.append(fn(task))
        if progress:
            progress(done, len(tasks))
    return results


def _name(task: object) -> str:
    return str(getattr(task, "key", task))


def run_pool(
    fn: Callable[[T], R], tasks: Sequence[T], spec: ExecutorSpec, progress: Progress | None
) -> list[R]:
    """Process pool; a broken pool (a worker died) is rebuilt for the unfinished tasks."""
    results: dict[int, R] = {}
    broken_rounds = 0
    context = multiprocessing.get_context("forkserver")
    # Workers fork from a server that already imported the task's module (pandas, TA-Lib,
    # the engine): seconds saved per worker. Ignored once the server runs.
    context.set_forkserver_preload([fn.__module__])
    while len(results) < len(tasks):
        pending = [i for i in range(len(tasks)) if i not in results]
        workers = min(spec.workers, len(pending))
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {pool.submit(fn, tasks[i]): i for i in pending}
            broken = _collect(futures, tasks, results, spec, progress)
        if broken:
            broken_rounds += 1
            if broken_rounds > spec.retries:
                left = len(tasks) - len(results)
                raise TaskFailed(
                    f"a worker process died {broken_rounds} times; {left} of {len(tasks)} "
                    "tasks unfinished (out of memory? see the system log)"
                )
    return [results[i] for i in range(len(tasks))]


def _collect(
    futures: dict[Future[R], int],
    tasks: Sequence[T],
    results: dict[int, R],
    spec: ExecutorSpec,
    progress: Progress | None,
) -> bool:
    """Gather finished futures into ``results``; True when the pool broke."""
    waiting = set(futures)
    while waiting:
        done, waiting = wait(waiting, timeout=spec.stall_seconds, return_when=FIRST_COMPLETED)
        if not done:
            raise TaskFailed(
                f"no task finished within {spec.stall_seconds:.0f} s; "
                f"{len(tasks) - len(results)} of {len(tasks)} unfinished"
            )
        for future in done:
            index = futures[future]
            try:
                results[index] = future.result()
            except BrokenProcessPool:
                return True
            except Exception as exc:
                raise TaskFailed(f"task {_name(tasks[index])} failed: {exc!r}") from exc
            if progress:
                progress(len(results), len(tasks))
    return False


def _connect(address: str) -> Client:
    try:
        from distributed import Client
    except ImportError as exc:
        raise ConfigurationError(
            "--dask needs the dask extra: pip install 'exchange-analytics[dask]'"
        ) from exc
    try:
        return Client(  # type: ignore[no-untyped-call]
            address, timeout=CONNECT_TIMEOUT_SECONDS, set_as_default=False
        )
    except (OSError, TimeoutError, ValueError) as exc:
        raise ExecutorUnavailable(
            f"Dask scheduler {address} unreachable within {CONNECT_TIMEOUT_SECONDS:.0f} s "
            f"({type(exc).__name__}): start it or fix --dask / DASK_SCHEDULER_ADDRESS"
        ) from exc


def _identity(value: T) -> T:
    return value


def _with_inputs(fn: Callable[[S], R], task: S, inputs: object) -> R:
    return fn(dataclasses.replace(task, inputs=inputs))


def _submit(
    client: Client, fn: Callable[[T], R], tasks: Sequence[T], retries: int
) -> list[DaskFuture[R]]:
    """Submit the tasks; bars shared by several tasks (``task.inputs``) travel once.

    The tasks of one pair-window share their bars; sending them with every task would hold
    one copy per task on the scheduler. Each distinct ``inputs`` becomes one small task
    returning it (not ``scatter``: a task's result is recomputed if the worker holding it
    dies, scattered data would be lost) that the pattern tasks depend on.
    """
    sharing = [t for t in tasks if isinstance(t, SharesInputs)]
    if not tasks or len(sharing) != len(tasks):
        return list(client.map(fn, list(tasks), pure=False, retries=retries))
    shared: dict[int, DaskFuture[object]] = {}
    for task in sharing:
        if id(task.inputs) not in shared:
            shared[id(task.inputs)] = client.submit(
                _identity, task.inputs, pure=False, retries=retries
            )
    return [
        client.submit(
            _with_inputs,
            fn,
            dataclasses.replace(task, inputs=None),
            shared[id(task.inputs)],
            pure=False,
            retries=retries,
        )
        for task in sharing
    ]


def run_dask(
    fn: Callable[[T], R], tasks: Sequence[T], spec: ExecutorSpec, progress: Progress | None
) -> list[R]:
    """Dask distributed: Dask reruns what a dead worker lost; a stall stops the run."""
    from distributed import wait as dask_wait

    if not spec.dask:
        raise ConfigurationError("--dask: give the scheduler address, e.g. tcp://10.0.0.5:8786")
    client = _connect(spec.dask)
    try:
        futures = _submit(client, fn, tasks, spec.retries)
        index = {future.key: i for i, future in enumerate(futures)}
        results: dict[int, R] = {}
        waiting = set(futures)
        while waiting:
            try:
                with client.as_current():  # ``wait`` looks the client up
                    done, waiting = dask_wait(  # type: ignore[no-untyped-call]
                        waiting, timeout=spec.stall_seconds, return_when="FIRST_COMPLETED"
                    )
            except TimeoutError as exc:
                raise TaskFailed(
                    f"no task finished within {spec.stall_seconds:.0f} s on {spec.dask}; "
                    f"{len(tasks) - len(results)} of {len(tasks)} unfinished (any workers?)"
                ) from exc
            for future in done:
                i = index[future.key]
                if future.status != "finished":
                    raise TaskFailed(
                        f"task {_name(tasks[i])} failed on {spec.dask}: {future.exception()!r}"
                    )
                results[i] = future.result()
                if progress:
                    progress(len(results), len(tasks))
        return [results[i] for i in range(len(tasks))]
    finally:
        client.close()  # type: ignore[no-untyped-call]  # distributed leaves it untyped
