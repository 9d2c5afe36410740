"""What a refusal from Telegram means for delivery, read from its text. No PTB here:
bot.telegram.ptb maps PTB's exception types and asks this module about a 400's wording.
"""

from __future__ import annotations

from datetime import timedelta

from bot.errors import DeliveryError, MessageRejected, RecipientGone, TopicGone

# 400s that mean the chat is unreachable rather than the message being wrong.
GONE_MARKERS = (
    "chat not found",
    "user not found",
    "peer_id_invalid",
    "have no rights to send",
    "not enough rights to send",
    "chat_write_forbidden",
    "bot was kicked",
)
# 400s that mean the forum topic is gone or closed: the message goes to the chat itself instead.
TOPIC_GONE_MARKERS = ("message thread not found", "topic_deleted", "topic_closed")


def retry_seconds(value: float | timedelta) -> float:
    """RetryAfter.retry_after as seconds: a timedelta with PTB_TIMEDELTA=1, else a number."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def bad_request_error(text: str) -> DeliveryError:
    """A 400's meaning: the chat is gone, the topic is gone, or this message was refused."""
    if any(marker in text.lower() for marker in GONE_MARKERS):
        return RecipientGone(text)
    if any(marker in text.lower() for marker in TOPIC_GONE_MARKERS):
        return TopicGone(text)
    return MessageRejected(text)
