"""Proactive alerts at a council node.

- `events`: what changed in a child's record, as alert events already filtered by the disclosure rules.
- `tables`, `store`: the outbox of events waiting to be sent, and the alerts received for local practitioners.
- `broker`: live delivery of newly stored alerts to watching practitioners (WatchAlerts).
"""
