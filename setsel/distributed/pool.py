"""The one Ray Data fan-out: rows mapped over a pool of stateful actors, results by input position.

Every Ray stage that holds a model per worker (index shards, retrieval, K-sample synthesis,
evaluation) is the same pipeline::

    from_items(rows + position) → repartition → map_batches(actor class, ActorPoolStrategy) → rows

:func:`map_rows` streams the output rows as they finish (evaluation journals them as they
come); :func:`map_in_order` collects them and returns one output per input, in input order,
after checking that every position came back exactly once.

The actor class is a plain callable class (Ray's ``map_batches`` idiom): built once per
actor with ``kwargs`` (load the model there), called with a batch ``{column: [values]}`` and
returning ``{column: [values]}`` with **one output row per input row**; the position column is
carried around it by :class:`_Positioned`, so actors never see or echo it. Rows must be
Arrow-friendly: numbers or strings (pass nested records as JSON strings).

Actors ask for fractional CPUs (``num_cpus`` 0.5 by default in every stage config) and the pool
has a fixed size: on a 2-core machine, actors holding whole CPUs starve Ray Data's read tasks
and the pipeline hangs (../shared/ENVIRONMENT.md). Ray must be initialised
(:func:`setsel.distributed.runtime.init_ray`).

Losing a node: the actors are placed with the
``SPREAD`` strategy (one model per node first), restarted wherever resources remain when their
node dies (``max_restarts=-1``) and their in-flight batch is retried (``max_task_retries=-1``),
set here explicitly rather than left to Ray Data's defaults. A retried batch is safe because
every stage's side effect is keyed by its rows: index shards and synthesis parts are written
atomically under a name derived from their rows, evaluation journals on the driver, so a
retried batch rewrites the same file rather than adding one. Tested by killing a worker node
mid-job on a multi-node cluster (``tests/distributed/test_node_loss.py``; docs/cluster.md,
"What a job survives").

Example:
    >>> out = map_in_order([{"x": 1}, {"x": 2}], Doubler, {}, ActorPool(num_actors=2))  # doctest: +SKIP
    >>> [r["y"] for r in out]                                                         # doctest: +SKIP
    [2, 4]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

POSITION = "_position"


@dataclass(frozen=True)
class ActorPool:
    """How many actors, and what each asks Ray for.

    Attributes:
        num_actors: fixed pool size (≥ 1).
        num_cpus: logical CPUs per actor (fractional on small machines; see the module note).
        num_gpus: GPUs per actor (1 on a GPU cluster: one model per GPU; 0 = none).
        blocks_per_actor: input blocks per actor, so a slow batch does not idle the others.
    """

    num_actors: int = 1
    num_cpus: float = 0.5
    num_gpus: float = 0.0
    blocks_per_actor: int = 4

    def __post_init__(self) -> None:
        if self.num_actors < 1 or self.num_cpus <= 0 or self.num_gpus < 0 or self.blocks_per_actor < 1:
            raise ValueError("ActorPool: num_actors ≥ 1, num_cpus > 0, num_gpus ≥ 0, blocks_per_actor ≥ 1")

    @classmethod
    def of(cls, cfg: Any, **overrides: Any) -> ActorPool:
        """From a stage's Ray settings (``num_actors``, ``num_cpus_per_actor``, ``num_gpus_per_actor``)."""
        values = {"num_actors": cfg.num_actors, "num_cpus": cfg.num_cpus_per_actor,
                  "num_gpus": cfg.num_gpus_per_actor}
        return cls(**{**values, **overrides})


class _Positioned:
    """Wraps a stage's actor class: strips the position column, calls it, puts it back."""

    def __init__(self, actor_cls: type, kwargs: dict[str, Any]) -> None:
        self.inner = actor_cls(**kwargs)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        positions = [int(p) for p in batch[POSITION]]
        out = self.inner({k: v for k, v in batch.items() if k != POSITION})
        for column, values in out.items():
            if len(values) != len(positions):
                raise RuntimeError(f"{type(self.inner).__name__} returned {len(values)} {column!r} values "
                                   f"for a batch of {len(positions)} rows (one output row per input row)")
        return {**out, POSITION: positions}


def map_rows(rows: list[dict[str, Any]], actor_cls: type, kwargs: dict[str, Any], pool: ActorPool,
             batch_size: int = 1) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(input position, output row)`` pairs as the actors finish them (any order).

    Args:
        rows: input rows (Arrow-friendly values).
        actor_cls: the stage's callable class; ``actor_cls(**kwargs)`` once per actor.
        kwargs: its constructor arguments (picklable).
        pool: actor count and resources.
        batch_size: rows per call.
    """
    if not rows:
        return
    import ray.data

    items = [{**row, POSITION: i} for i, row in enumerate(rows)]
    n_blocks = max(1, min(len(items), pool.num_actors * pool.blocks_per_actor))
    ds = ray.data.from_items(items).repartition(n_blocks)
    out = ds.map_batches(
        _Positioned,
        fn_constructor_kwargs={"actor_cls": actor_cls, "kwargs": kwargs},
        batch_size=batch_size,
        compute=ray.data.ActorPoolStrategy(size=min(pool.num_actors, len(items))),
        num_cpus=pool.num_cpus,
        num_gpus=pool.num_gpus or None,
        scheduling_strategy="SPREAD",
        max_restarts=-1,
        max_task_retries=-1,
    )
    for r in out.iter_rows():
        r = dict(r)
        yield int(r.pop(POSITION)), r


def map_in_order(rows: list[dict[str, Any]], actor_cls: type, kwargs: dict[str, Any], pool: ActorPool,
                 batch_size: int = 1) -> list[dict[str, Any]]:
    """One output row per input row, in input order (see :func:`map_rows`).

    Raises:
        RuntimeError: a position came back twice or not at all.
    """
    got: dict[int, dict[str, Any]] = {}
    for position, row in map_rows(rows, actor_cls, kwargs, pool, batch_size):
        if position in got:
            raise RuntimeError(f"{actor_cls.__name__}: row {position} came back twice")
        got[position] = row
    missing = [i for i in range(len(rows)) if i not in got]
    if missing:
        raise RuntimeError(f"{actor_cls.__name__}: {len(missing)} of {len(rows)} rows never came back "
                           f"(first: {missing[:5]})")
    return [got[i] for i in range(len(rows))]
