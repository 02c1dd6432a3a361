"""setsel.distributed.pool: the one Ray Data fan-out (local Ray on 127.0.0.1)."""

from __future__ import annotations

import os

import pytest

from setsel.distributed.pool import ActorPool, map_in_order, map_rows

pytestmark = pytest.mark.slow


class Squarer:
    """A stateful actor: remembers its process id, squares ``x``."""

    def __init__(self, offset: int) -> None:
        self.offset, self.pid = offset, os.getpid()

    def __call__(self, batch):
        return {"y": [int(x) ** 2 + self.offset for x in batch["x"]], "pid": [self.pid] * len(batch["x"])}


class Dropper:
    """Breaks the contract: one output row per batch, whatever the batch size."""

    def __init__(self) -> None:
        pass

    def __call__(self, batch):
        return {"y": [0]}


def test_pool_settings_are_checked():
    assert ActorPool.of(type("R", (), {"num_actors": 3, "num_cpus_per_actor": 0.25, "num_gpus_per_actor": 0})()) \
        == ActorPool(num_actors=3, num_cpus=0.25, num_gpus=0.0)
    with pytest.raises(ValueError, match="num_actors"):
        ActorPool(num_actors=0)


def test_map_in_order_returns_every_row_once_in_input_order(ray_local):
    rows = [{"x": x} for x in range(23)]
    out = map_in_order(rows, Squarer, {"offset": 1}, ActorPool(num_actors=2, num_cpus=0.5), batch_size=4)
    assert [r["y"] for r in out] == [x * x + 1 for x in range(23)]
    assert "_position" not in out[0]
    assert all(r["pid"] != os.getpid() for r in out)  # computed in actor processes
    streamed = sorted(map_rows(rows, Squarer, {"offset": 0}, ActorPool(num_actors=1), batch_size=5))
    assert [p for p, _ in streamed] == list(range(23)) and streamed[7][1]["y"] == 49
    assert map_in_order([], Squarer, {"offset": 0}, ActorPool()) == []


def test_an_actor_that_drops_rows_fails_loudly(ray_local):
    with pytest.raises(Exception, match="one output row per input row"):
        map_in_order([{"x": x} for x in range(4)], Dropper, {}, ActorPool(num_actors=1), batch_size=2)
