"""HTTP interfaces of cronmonitor, one module per audience."""
