"""Database set-up shared by the server and the console's cache (SQLAlchemy only)."""
