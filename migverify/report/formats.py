"""What the report formats share, kept free of heavy imports: `migverify scan` loads only this
(not the check stage, its database driver and sandbox)."""

from __future__ import annotations

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/migverify/migverify#lint-rules"


def escape_data(text: str) -> str:
    """GitHub workflow-command data: `%`, CR and LF escaped."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """GitHub workflow-command property values: also `:` and `,`."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")
