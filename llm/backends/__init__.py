"""Model backends behind one protocol (``llm.backends.base.Backend``)."""
