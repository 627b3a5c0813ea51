"""The SLO benchmark (`python -m hive_agent bench`): clips of an eval manifest through the real
pipeline at real-time pace (`run`), scored and summarised as metrics.md asks (`report`)."""
