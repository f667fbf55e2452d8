"""The pure core: pod and namespace events in, file actions and wake-up times out."""
