"""Amazon SQS adapters (aioboto3)."""
