"""Items -> feeds and pages: RSS/Atom/JSON/OPML rendering, the index page, the web server."""
