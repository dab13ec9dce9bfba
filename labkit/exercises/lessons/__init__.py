"""The exercises of the lessons: one module per lesson (`lessonN.py`), each with a list
`EXERCISES`. labkit.exercises finds them with pkgutil, so a new lesson adds a module and
nothing else; `_lab.py` holds the helpers the checks share.
"""
