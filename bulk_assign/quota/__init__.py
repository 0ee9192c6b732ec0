"""The account's write quota: token buckets and the pace, the daily budget and the write window,
sharing with the account's other writers."""
