"""bulk-assign: reassign AWS Partner Central opportunities in bulk from a spreadsheet."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bulk-assign")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
