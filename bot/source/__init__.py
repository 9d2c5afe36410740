"""A site's pages -> Items: fetch, decode, parse, scrape, attachments, dates."""
