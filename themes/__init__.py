"""Customer feedback themes: what customers ask for, grouped, weighted and named.

Requests carry their words on the log (``core.request_text``); this package embeds them
offline (``embedding``), groups them into themes (``clustering``), names each theme by its
most distinctive terms (``terms``) and measures the grouping against labelled feedback
(``evaluate``). It stands on the kernel only; the shell decides when to run it.
"""
