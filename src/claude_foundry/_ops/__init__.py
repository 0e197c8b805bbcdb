"""Day-2 operations on a deployed stack: ``preflight`` (before ``pulumi up``), ``verify`` (drift, on a
schedule) and ``rotate-keys`` (zero-downtime key rotation). Built on the Azure SDKs against real Azure or,
in tests, the local sandbox; what *should* exist always comes from the plan of the real Pulumi program.
"""
