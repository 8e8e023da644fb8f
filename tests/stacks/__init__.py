"""The root program's stacks (dev, prod) end to end, ``up``'s CLI handling, bad stack config."""
