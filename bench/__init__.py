"""paywindow's benchmarks: one package per subject, each with a ``run.py`` that has ``main()``.

``make bench`` (``python -m bench``) runs them all in turn; each writes its figures to
``bench/results/`` (not committed) and to its own section of ``docs/benchmarks.md``.
"""
