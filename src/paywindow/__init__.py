"""paywindow: the payments back office of a marketplace (Stripe Checkout, Connect Express).

The shells start from :mod:`paywindow.resources` (settings become objects) and
:mod:`paywindow.jobs` (one function per deployment and command).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("paywindow")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
