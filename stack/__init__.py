"""The system under test as processes: topology defined once, a local runner, resource budgets."""
