"""The demo: the hub and its simulated systems through a compressed-time day."""
