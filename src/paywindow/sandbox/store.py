"""In-memory state of the sandbox: objects, ownership, timers and the idempotency cache.

Invariants:

* every object lives once in ``objects`` under its id, with an insertion rank in ``ranks``;
  lists are newest first by rank (ties in ``created`` never reorder them);
* ``owner[id]`` is the account the object belongs to (the platform or an ``acct_``);
* ``internal[id]`` holds data Stripe never returns (line items, scripted outcomes, payout links);
* timers fire in ``(due, priority, seq)`` order, so effects due at the same instant run in a
  stable, deliberate order (balance availability before payouts);
* ``dump``/``load`` round-trip everything needed to continue after a restart.
"""

from __future__ import annotations

import heapq
import os
import pathlib
import tempfile
from collections.abc import Iterator

from paywindow.sandbox.wire import Obj, no_such

__all__ = ["Store", "Timer", "write_text_atomic"]

Timer = tuple[int, int, int, str, str]  # due, priority, seq, kind, target


class Store:
    """All sandbox objects of one platform account."""

    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.objects: dict[str, Obj] = {}
        self.ranks: dict[str, int] = {}
        self.by_kind: dict[str, list[str]] = {}
        self.owner: dict[str, str] = {}
        self.internal: dict[str, Obj] = {}
        self.timers: list[Timer] = []
        self.idempotency: dict[str, Obj] = {}
        self.seq = 0
        self.dirty = False

    def add(self, obj: Obj, owner: str | None = None, internal: Obj | None = None) -> Obj:
        """Insert a new object (``obj["object"]`` is its kind) and return it."""
        self.seq += 1
        obj_id = obj["id"]
        self.objects[obj_id] = obj
        self.ranks[obj_id] = self.seq
        self.by_kind.setdefault(obj["object"], []).append(obj_id)
        self.owner[obj_id] = owner or self.platform
        if internal is not None:
            self.internal[obj_id] = internal
        self.dirty = True
        return obj

    def get(self, obj_id: str, kind: str) -> Obj | None:
        """The object with this id and kind, or None."""
        obj = self.objects.get(obj_id)
        return obj if obj is not None and obj["object"] == kind else None

    def require(
        self, obj_id: str, kind: str, account: str | None = None, param: str | None = "id"
    ) -> Obj:
        """The object, or Stripe's 404 ``No such <kind>`` (also when owned by another account)."""
        obj = self.get(obj_id, kind)
        if obj is None or (account is not None and self.owner[obj_id] != account):
            raise no_such(kind, obj_id, param)
        return obj

    def extra(self, obj_id: str) -> Obj:
        """Internal data of an object (created empty on first use)."""
        return self.internal.setdefault(obj_id, {})

    def newest_first(self, kind: str, account: str | None) -> Iterator[Obj]:
        """Objects of a kind owned by ``account`` (any owner when None), newest first."""
        for obj_id in reversed(self.by_kind.get(kind, [])):
            if account is None or self.owner[obj_id] == account:
                yield self.objects[obj_id]

    def position(self, obj_id: str) -> int | None:
        """Insertion rank of an object, for cursors."""
        return self.ranks.get(obj_id)

    def remove(self, obj_id: str) -> None:
        """Forget an object entirely (pruned events, deleted endpoints)."""
        obj = self.objects.pop(obj_id, None)
        if obj is None:
            return
        self.by_kind[obj["object"]].remove(obj_id)
        for table in (self.ranks, self.owner, self.internal):
            table.pop(obj_id, None)
        self.dirty = True

    def schedule(self, due: int, kind: str, target: str, priority: int = 5) -> None:
        """Fire timer ``kind`` for ``target`` once the clock reaches ``due``."""
        self.seq += 1
        heapq.heappush(self.timers, (due, priority, self.seq, kind, target))
        self.dirty = True

    def pop_due(self, now: int) -> Timer | None:
        """The earliest timer due at or before ``now``, removed from the queue."""
        if self.timers and self.timers[0][0] <= now:
            self.dirty = True
            return heapq.heappop(self.timers)
        return None

    def prune_idempotency(self, horizon: int) -> None:
        """Forget idempotency keys first used before ``horizon`` (oldest first, insertion order)."""
        keys = self.idempotency
        while keys:
            oldest = next(iter(keys))
            if keys[oldest]["created"] >= horizon:
                return
            del keys[oldest]

    def dump(self) -> Obj:
        """Everything needed to continue after a restart, as JSON-able data."""
        return {
            "platform": self.platform,
            "objects": [self.objects[i] for i in sorted(self.ranks, key=self.ranks.__getitem__)],
            "owner": self.owner,
            "internal": self.internal,
            "timers": self.timers,
            "idempotency": self.idempotency,
            "seq": self.seq,
        }

    @classmethod
    def load(cls, data: Obj) -> Store:
        """Rebuild a store written by ``dump``."""
        store = cls(data["platform"])
        for obj in data["objects"]:
            store.add(obj)
        store.owner = dict(data["owner"])
        store.internal = dict(data["internal"])
        store.timers = [
            (int(d), int(p), int(q), str(k), str(t)) for d, p, q, k, t in data["timers"]
        ]
        heapq.heapify(store.timers)
        store.idempotency = dict(data["idempotency"])
        store.seq = max(store.seq, int(data["seq"]))
        store.dirty = False
        return store


def write_text_atomic(path: pathlib.Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temp file in the same directory, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
