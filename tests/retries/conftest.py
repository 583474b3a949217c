from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.world import World, build_world


@pytest.fixture
def world(engine: Engine) -> Iterator[World]:
    with build_world(engine) as built:
        yield built
