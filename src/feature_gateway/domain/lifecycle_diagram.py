"""The workflow as a Mermaid state diagram, generated from the lifecycle table.

The docs show this diagram between ``DIAGRAM_START`` and ``DIAGRAM_END`` markers; a test
checks that what they show is what ``mermaid_diagram()`` generates, and
``feature-gateway lifecycle-diagram --fenced`` prints the block to paste there.
"""

from __future__ import annotations

from feature_gateway.domain.lifecycle import (
    CREATED_STATUS,
    STATES,
    TRIGGERS,
    Status,
    Trigger,
)

DIAGRAM_START = "<!-- lifecycle-diagram:start -->"
DIAGRAM_END = "<!-- lifecycle-diagram:end -->"
_INDENT = "    "


def _label(trigger: Trigger) -> str:
    leaders = [t.name for t in TRIGGERS.values() if t.then == trigger.name]
    if leaders:
        return f"{trigger.name} (same request as {', '.join(leaders)})"
    if trigger.reason:
        return f"{trigger.name} ({trigger.reason})"
    return trigger.name


def _edges() -> list[str]:
    edges = [f"[*] --> {CREATED_STATUS}: create"]
    for trigger in TRIGGERS.values():
        label = _label(trigger)
        for source in (s for s in Status if s in trigger.sources):
            edges.extend(f"{source} --> {dest}: {label}" for dest in trigger.dests)
    edges.extend(f"{status} --> [*]" for status, state in STATES.items() if state.terminal)
    return edges


def mermaid_diagram() -> str:
    """The Mermaid source of the lifecycle: every transition, creation and the end states."""
    return "".join(f"{line}\n" for line in ["stateDiagram-v2", *(_INDENT + e for e in _edges())])


def fenced_diagram() -> str:
    """The diagram as the Markdown block the docs hold between the markers."""
    return f"```mermaid\n{mermaid_diagram()}```\n"
