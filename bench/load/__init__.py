"""The load: what is sent (payloads), when (shapes), and how (Locust users, dispatch, wire)."""
