"""`make bench`: the performance report (python -m bench)."""
