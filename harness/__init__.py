"""What drives WhoElse from outside, as an operator or a reviewer would: the demo and the local federation it
starts, synthetic England, the benchmarks (`whoelse bench …`) and the review report.

Nothing in `whoelse.node`, `whoelse.directory` or `whoelse.federation` imports this package; it starts and
calls them through their commands, servers and public functions.
"""
