"""The pipeline stages, one module per activity; `pipeline` is the only module that knows their order."""
