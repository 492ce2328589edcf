"""What the desk tells customers (and the staff chat) when a claim changes, written as outbound
interactions and outbox messages in the transaction of the change; the delivery worker sends them.

`flows` holds the messages, `decision` and `survey` the customer's answers to them, `sweeper`
the periodic checks (auto-close, SLA reminders, overdue alerts).
"""
