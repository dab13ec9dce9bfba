"""The instructor's tools: build a lesson in a real lab (and record it), lint it, keep its
text source in sync, release a learner edition, start a new lesson. `labkit lesson ...`."""
