"""Checking every row before any call: the service model's constraints, normalisation and
validation, the hidden-rows decision."""
