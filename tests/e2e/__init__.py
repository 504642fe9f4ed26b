"""End-to-end tests: the served app over HTTP and in a browser."""
