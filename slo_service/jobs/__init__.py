"""APScheduler jobs: the timers that drive collection, evaluation and compaction."""
