"""Launch: cluster file and version profiles, emitted node scripts, memory-fit plan."""
