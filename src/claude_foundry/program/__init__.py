"""What should exist, and the rules it must obey: the stack spec (``spec``), the Pulumi components
(``components``), the same program under mocks (``plan``, with ``armmap`` giving each resource its ARM
request) and the guardrails (``policy``). The ``[infra]`` side; ``spec`` alone also serves ``validate``."""
