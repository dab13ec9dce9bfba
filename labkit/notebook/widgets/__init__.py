"""What a learner clicks in JupyterLab (ipywidgets 8): exercise checks, lab controls, a packet
tracer and a namespace explorer, one module each (common.py: what they share).

    from labkit.widgets import exercise_widget, lab_controls, packet_tracer, explorer
    exercise_widget("lesson1/find-the-peer")   # Check / Hint / Show solution, with progress
    lab_controls()                             # status, mode, reset, how to open a terminal
    packet_tracer()                            # pick source and destination, see the path
    explorer()                                 # pick a namespace: interfaces, routes, ip neigh

Saved and exported notebooks: every widget's output also carries `text/plain` and
`text/html` written by labkit (not ipywidgets' `Button(...)` repr), computed when the cell
ran and independent of the learner's progress, so a reader without a kernel reads what the
widget said, and strict nbval compares a stable text (it skips the widget-view mimetype).
No `Output` widget is used anywhere: what it captures goes to the cell under nbval and into
the widget in JupyterLab, so stored and fresh outputs would differ. Results are HTML widgets.
"""

from labkit.hosts.shell import terminal_command
from labkit.notebook.widgets.controls import LabControls, lab_controls, lab_status
from labkit.notebook.widgets.exercise import ExerciseWidget, exercise_widget
from labkit.notebook.widgets.explorer import Explorer, explorer
from labkit.notebook.widgets.tracer import PacketTracer, TraceResult, packet_tracer, trace_packet

__all__ = ["ExerciseWidget", "Explorer", "LabControls", "PacketTracer", "TraceResult",
           "exercise_widget", "explorer", "lab_controls", "lab_status", "packet_tracer",
           "terminal_command", "trace_packet"]
