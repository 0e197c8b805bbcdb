"""The resource providers of the ARM stand-in (``sandbox/arm.py``), one module each; each exposes ``PROVIDER``
(see :mod:`.base`)."""
