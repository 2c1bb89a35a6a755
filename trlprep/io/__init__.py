"""Reading and writing datasets: files, folders, the Hub, JSON text (tool-call arguments, mixed
JSON kinds), Parquet, in-memory dataset kinds.
"""
