"""The widgets, under the name the lessons import them by (`from labkit.widgets import
exercise_widget`); they live in labkit.notebook.widgets (docs/widgets.md)."""

from labkit.notebook.widgets import (
    ExerciseWidget,
    Explorer,
    LabControls,
    PacketTracer,
    TraceResult,
    exercise_widget,
    explorer,
    lab_controls,
    lab_status,
    packet_tracer,
    terminal_command,
    trace_packet,
)

__all__ = ["ExerciseWidget", "Explorer", "LabControls", "PacketTracer", "TraceResult",
           "exercise_widget", "explorer", "lab_controls", "lab_status", "packet_tracer",
           "terminal_command", "trace_packet"]
