# paywindow: make demo | make test | make run | make bench
SHELL := /bin/bash
UV ?= uv
export UV_LINK_MODE ?= copy

.PHONY: install demo test test-fast lint typecheck pytest run bench clean

install:
	@command -v $(UV) >/dev/null || python3 -m pip install --quiet uv
	$(UV) sync --frozen --all-extras

demo: install
	$(UV) run paywindow demo

lint: install
	$(UV) run ruff check src tests flows tasks bench
	$(UV) run ruff format --check src tests flows tasks bench

typecheck: install
	$(UV) run mypy src/paywindow
	$(UV) run mypy --follow-imports=silent tests flows tasks bench

pytest: install
	$(UV) run pytest -q --durations=15

test: lint typecheck pytest

# the inner loop: everything but the slow end-to-end tests (Prefect servers, the wheel)
test-fast: install
	$(UV) run pytest -q -m "not slow"

run: install
	$(UV) run paywindow run

bench: install
	$(UV) run --frozen --all-extras --group bench python -m bench

clean:
	rm -rf var out .pytest_cache .mypy_cache .ruff_cache
