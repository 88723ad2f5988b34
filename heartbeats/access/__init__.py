"""Access to the management API: issuing, checking and revoking API keys, and the per-key
rate limit. A service: the admin, the `create_api_key` command and the API call it. May import
`domain` and the base.
"""
