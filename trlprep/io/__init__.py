"""Reading and writing datasets: files, folders, the Hub, JSON text, Parquet, in-memory kinds."""
