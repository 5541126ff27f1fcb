"""migverify: prove a PostgreSQL compatibility layer safe before cutover."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("migverify")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
