"""How long the texts the desk keeps may be. Every edge (CSV import, API bodies, the bot) and every
service reads its limit here, so a limit is written once.

Generous on purpose: real complaint narratives run long (the public CFPB sample's longest is
21,928 characters), and a claim refused for its length is a claim lost. Telegram's 4,096
characters per message is not a limit on what the desk keeps: the delivery worker splits a longer
message into several when it sends it (bot/delivery/render.py).
"""

from __future__ import annotations

# Descriptions, requirements, resolutions, interaction texts, plan details and outcomes, comments.
LONG_TEXT = 100_000
# A claim's subject (its column is varchar(300)).
SUBJECT = 300
