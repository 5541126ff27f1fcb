"""migverify: prove a PostgreSQL compatibility layer safe before cutover."""


def __getattr__(name: str) -> str:
    # Looked up on first use: importlib.metadata costs a tenth of a second at every start-up.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("migverify")
        except PackageNotFoundError:  # running from a source tree that was never installed
            return "0.0.0+unknown"
    raise AttributeError(f"module 'migverify' has no attribute {name!r}")
