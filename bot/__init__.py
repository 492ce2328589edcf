"""The customers' Telegram bot (aiogram 3): app (dispatcher, polling and webhook modes),
middlewares (one transaction per update), routers/, the delivery worker; sandbox/ = the Bot API
emulator."""
