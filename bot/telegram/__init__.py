"""Telegram: the PTB wiring, outbox delivery, messages, notices, digests, texts."""
