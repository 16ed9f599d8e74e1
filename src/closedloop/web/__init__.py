"""Server-rendered web pages (Jinja2) over the same services as the API."""
