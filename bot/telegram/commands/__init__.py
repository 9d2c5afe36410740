"""What the bot answers to each command and button, with no Telegram library."""
