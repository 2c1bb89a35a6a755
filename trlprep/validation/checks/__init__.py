"""The column checks, one family over a record batch: `common` (the sink and shared helpers),
`plain`, `messages`, `sides`, `cross`, `text`, `reading`.
"""
