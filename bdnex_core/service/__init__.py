"""What a long-running bdnex-core needs beside its work: notifications, a catalogue kept fresh, a heartbeat.

``notifications`` tells people how runs went and when Bédéthèque stops answering (any command);
``upkeep`` is what a service loop (``komga watch``/``serve``, ``kavita watch``) calls between events:
the scheduled catalogue refresh and the heartbeat that ``bdnex-core health`` reads (``health``).
"""
