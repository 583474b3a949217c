"""Benchmark of the webhook recorder: signed ingest, a bare-endpoint baseline, a crash test.

``python -m bench.recorder.run --help`` for options; results go to ``bench/results/`` and the
``## Recorder`` section of ``docs/benchmarks.md``.
"""
