"""claude-foundry: Claude on Microsoft Foundry as infrastructure as code."""

__version__ = "0.1.0"
