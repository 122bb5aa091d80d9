"""HTTP routes. Every versioned API path starts with API_PREFIX."""

API_PREFIX = "/api/v1"
