"""Validation: the rules, the checks, duplicates, the report and the JSON Schemas."""
