"""The SLA compliance report: :mod:`.view` (the window), :mod:`.charts`, :mod:`.figures`
(the headline figures) and :mod:`.pdf` (the one-page summary)."""
