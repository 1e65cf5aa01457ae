"""Parts of fathom's benchmark (`bash bench/run`): processes, load, books, workloads, results."""
