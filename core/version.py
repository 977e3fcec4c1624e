"""The release this code is: reported by `/health` and the OpenAPI document's `info.version`.

Kept equal to `pyproject.toml`'s `project.version` and the newest `CHANGELOG.md` entry (a test
checks all three).
"""

__version__ = "1.1.0"
