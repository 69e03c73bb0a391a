"""Meetings: a recording becomes a speaker-attributed transcript, then minutes, to-dos and a report.

Importing this package is cheap: the speech, speaker and language models load lazily, once, in
the stage that needs them (``import meeting`` never imports torch or ctranslate2).
"""
