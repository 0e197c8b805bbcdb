"""Azure Resource Manager plumbing without Pulumi: ids, API versions, type tokens, role ids (``arm``), where
calls go and with which credential (``target``), raw ARM calls (``caller``) and one describer of Azure
errors (``errors``). Installs with ``[ops]``; imports only the vocabulary."""
