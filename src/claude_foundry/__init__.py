"""claude-foundry: Claude on Microsoft Foundry as infrastructure as code."""

from importlib.metadata import PackageNotFoundError, version

try:
    # One home for the version: the installed distribution's metadata, which setuptools-scm took from the git tag.
    __version__ = version("claude-foundry")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
