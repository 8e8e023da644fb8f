"""Component tests: Pulumi mocks, and mocks driving the real providers against the simulator."""
