"""Feedback to citizens: every caller who asked for a callback is told when their case closes (docs/notify.md).

`notifier.py` is the interface a channel implements (webhook here; SMS and WeChat Work are plug-ins of the same
shape), `webhook.py` the signed HTTP POST, `outbox.py` the notifications table (what is owed, sent, failed),
`service.py` the small service that reads case events from Kafka and delivers with retries.
"""
