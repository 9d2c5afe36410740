"""newsbot: feeds and Telegram alerts for news sites that publish no feed."""

__version__ = "0.1.0"
