"""What the AWS adapters (SQS, DynamoDB) share: their clients and how their errors map."""
