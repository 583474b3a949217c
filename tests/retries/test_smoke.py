from __future__ import annotations

from datetime import timedelta

from tests.retries.helpers import attempts_of, failed_order, links, run, state_of
from tests.world import World


def test_smoke(world: World) -> None:
    failed_order(world, "ord_s1")
    assert state_of(world, "ord_s1") == "payment_failed"
    report = run(world)
    assert report.opened == 1
    rows = attempts_of(world, "ord_s1")
    print([(r["number"], r["due_at"], r["status"]) for r in rows])
    world.advance(timedelta(hours=1))
    report = run(world)
    print(report.as_dict())
    print(attempts_of(world, "ord_s1")[0])
    print(links(world))
    print(state_of(world, "ord_s1"))
