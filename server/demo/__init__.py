"""Realistic demo data for ``offimizer-server serve --seed-demo``.

Three teams, a dozen agents and leads, ~40 customer organisations on the paid
plans and ~600 tickets of every priority, severity and status, spread over the
past four weeks, with requesters, tags, public replies, internal notes and a
full history (creation, assignment, first responses, pending periods, priority
changes, resolutions, closures).  Everything is generated from a seeded random
generator and an injected ``now``: the same seed and instant always give the
same data.

The history is placed in *business* time relative to ``now`` (the SLA
calendar's positions), so that whenever the demo starts, the clocks the ``sla``
engine replays from it show a lively queue: many met, some running, some at
risk, some breached, some paused on the customer.

Demo credentials (every account has the password
:data:`~server.demo.seed.DEMO_PASSWORD`, ``offimizer-demo``):

* ``agent`` — Lucas Bernard, agent of "Support N1";
* ``lead`` — Sophie Martin, team lead of "Support N1";
* ``lead-n2`` and ``lead-integrations`` — the other teams' leads;
* ``admin`` — Camille Rousseau, administrator (sees every team);
* the other agents by their first name in lower case without accents
  (``emma``, ``hugo``, ``chloe``, ``lea``, ``mathieu``, ``ines``, ``sara``, ``thomas``).

Rows are written with bulk inserts in one transaction, and every entity
(teams, organisations, users, tickets, comments, history entries) gets its
change-feed row, so a console syncing from an empty cursor receives it all.

:mod:`~server.demo.corpus` holds the words (names, organisations, what tickets
say), :mod:`~server.demo.planner` decides what happens to each ticket,
:mod:`~server.demo.writer` inserts the tickets and their feed rows, and
:func:`~server.demo.seed.seed_demo` puts it all in a database.
"""
