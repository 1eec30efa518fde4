"""The ticket workspace beside the queue (:class:`~desktop.views.workspace.view.TicketWorkspace`).

Its rooms: :mod:`.header` (number, subject, live SLA clocks and their timeline),
:mod:`.fields` (status, priority, severity, assignee: staged with a preview of the
due times, then applied), :mod:`.conversation` (the comments and the reply editor)
and :mod:`.knowledge_base` (article search).  Everything the agent changes goes
through the store's named commands (:meth:`sync.store.Store.set_status`, …), so it
works offline and lands in the outbox.
"""
