"""Amazon DynamoDB adapters (aioboto3): the chat store."""
