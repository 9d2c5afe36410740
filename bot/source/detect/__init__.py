"""List auto-detection: find the article list on a page that has no recipe."""
