"""The cache's schema revisions, oldest first."""
