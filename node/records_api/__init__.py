"""The records API: case-management systems keep the node current, change by change (docs/records-api.md)."""
