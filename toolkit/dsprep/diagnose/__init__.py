"""``dsprep diagnose``: name the cause and the fix of a failed start from its logs."""
