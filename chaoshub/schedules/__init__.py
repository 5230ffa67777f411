"""Schedules: a saved workflow or experiment started on a timetable by the beat process.

:mod:`.timing` turns a cron expression, a time zone and blackout windows into fire times;
:mod:`.firing` is the beat task that claims each due tick once and starts it.
"""
