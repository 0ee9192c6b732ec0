"""Talking to Partner Central: the boto3 client, what a failed call means, and the retry policy."""
