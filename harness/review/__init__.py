"""`whoelse review`: the federation and ContactPoint mode measured side by side, and the report
(docs/review.md)."""
