"""Firebase adapters: the Admin SDK behind our ports."""
