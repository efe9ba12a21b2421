"""The development harness: the whole-stack simulator (``python -m harness``), the fakes of
Personalize and Step Functions, the custom-resource player of the handler tests (provider.py) and
the session's synthesis (synthesis.py). It drives the product; tests import it, never the reverse."""
