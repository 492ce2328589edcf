"""Getting updates: long polling (getUpdates) and the webhook's settings."""

from __future__ import annotations

import asyncio
import re

from bot.sandbox.calls import Call, Handler
from bot.sandbox.errors import ApiError, bad
from bot.sandbox.protocol import JSON
from bot.sandbox.world import Webhook

_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


async def get_updates(call: Call) -> list[JSON]:
    world, context = call.world, call.context
    if world.webhook is not None:
        raise ApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        )
    offset = call.int("offset", 0) or 0
    limit = min(100, max(1, call.int("limit", 100) or 100))
    timeout = max(0, call.int("timeout", 0) or 0)
    if isinstance(call.params.get("allowed_updates"), list):
        # Telegram remembers allowed_updates between calls.
        world.allowed_updates = call.params["allowed_updates"] or None
    if offset > 0:
        world.updates = [u for u in world.updates if u["update_id"] >= offset]
    elif offset < 0:
        world.updates = world.updates[offset:]
    # A newer getUpdates ends an older long poll with 409, exactly like Telegram does when
    # two bot instances poll with one token.
    generation = context.poll_generation[world.token] = context.poll_generation.get(world.token, 0) + 1
    world.notify()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if context.poll_generation[world.token] != generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
            )
        world.updates = [u for u in world.updates if world.update_allowed(u, world.allowed_updates)]
        if world.webhook is not None:
            return []
        remaining = deadline - loop.time()
        if world.updates or remaining <= 0 or context.closing.is_set():
            return world.updates[:limit]
        await world.wait_change(remaining)


async def set_webhook(call: Call) -> bool:
    world, p = call.world, call.params
    url = str(p.get("url") or "")
    if not url:
        return await delete_webhook(call)
    if not re.match(r"^https?://[^\s/]+", url):
        raise bad("bad webhook: An HTTPS URL must be provided for webhook")
    secret = p.get("secret_token")
    if secret not in (None, "") and not _SECRET_RE.match(str(secret)):
        raise bad("secret token contains unallowed characters")
    if call.bool("drop_pending_updates"):
        world.updates.clear()
    allowed = p.get("allowed_updates") if isinstance(p.get("allowed_updates"), list) else None
    world.webhook = Webhook(
        url=url,
        secret_token=str(secret) if secret else None,
        max_connections=call.int("max_connections", 40) or 40,
        allowed_updates=allowed or None,
    )
    if allowed is not None:
        world.allowed_updates = allowed or None
    call.context.webhooks.restart(world)
    world.notify()
    return True


async def delete_webhook(call: Call) -> bool:
    world = call.world
    world.webhook = None
    if call.bool("drop_pending_updates"):
        world.updates.clear()
    call.context.webhooks.cancel(world)
    world.notify()
    return True


async def get_webhook_info(call: Call) -> JSON:
    world = call.world
    hook = world.webhook
    info: JSON = {
        "url": hook.url if hook else "",
        "has_custom_certificate": False,
        "pending_update_count": len(world.updates),
    }
    if hook:
        info["max_connections"] = hook.max_connections
        info["ip_address"] = "127.0.0.1"
        if hook.allowed_updates:
            info["allowed_updates"] = hook.allowed_updates
        if hook.last_error_date:
            info["last_error_date"] = hook.last_error_date
            info["last_error_message"] = hook.last_error_message
    return info


METHODS: dict[str, Handler] = {
    "getUpdates": get_updates,
    "setWebhook": set_webhook,
    "deleteWebhook": delete_webhook,
    "getWebhookInfo": get_webhook_info,
}
