"""A template's dependency graph as Mermaid flowchart text, for the template page's diagram.

Mermaid lays the graph out; this module only states it: one box per stage (in the template's
order) holding its tasks, and an arrow from each prerequisite to the task that waits on it. Node
ids are generated (``t0``, ``t1``…), never taken from refs, and every label is escaped, so
nothing a person typed can change the diagram's structure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Mermaid reads "#name;" and "#123;" as character entities inside quoted labels; everything that
# could end a label or start markup is written that way.
_MERMAID_ESCAPES = {
    "#": "#35;",
    '"': "#quot;",
    "<": "#lt;",
    ">": "#gt;",
    "&": "#amp;",
    "`": "#96;",
    "[": "#91;",
    "]": "#93;",
    "{": "#123;",
    "}": "#125;",
    "|": "#124;",
}


def mermaid_label(text: str) -> str:
    """``text`` as a quoted Mermaid label: entities for markup characters, one line."""
    cleaned = " ".join(str(text).split())
    return '"' + "".join(_MERMAID_ESCAPES.get(char, char) for char in cleaned) + '"'


@dataclass(frozen=True)
class GraphTask:
    ref: str
    title: str
    stage: str
    depends_on: tuple[str, ...]


def graph_tasks(tasks: Iterable) -> list[GraphTask]:
    """Template task definitions (objects or dicts with ref, title, stage, depends_on)."""

    def read(task, name):
        return task.get(name) if isinstance(task, dict) else getattr(task, name)

    return [
        GraphTask(
            ref=read(task, "ref"),
            title=read(task, "title"),
            stage=read(task, "stage") or "",
            depends_on=tuple(read(task, "depends_on") or ()),
        )
        for task in tasks
    ]


def dependency_mermaid(stages: list[str], tasks: Iterable) -> str:
    """The flowchart text: stages as subgraphs (template order, then any other stage used),
    tasks as nodes labelled with their titles, edges prerequisite --> dependent. Dependencies
    on refs the template does not define are left out."""
    items = graph_tasks(tasks)
    ids = {task.ref: f"t{index}" for index, task in enumerate(items)}
    order = list(stages or [])
    order += [stage for stage in dict.fromkeys(task.stage for task in items) if stage not in order]
    lines = ["flowchart TD"]
    for index, stage in enumerate(order):
        members = [task for task in items if task.stage == stage]
        if not members:
            continue
        if stage:
            lines.append(f"  subgraph s{index}[{mermaid_label(stage)}]")
        for task in members:
            lines.append(f"    {ids[task.ref]}[{mermaid_label(task.title)}]")
        if stage:
            lines.append("  end")
    for task in items:
        for prerequisite in task.depends_on:
            if prerequisite in ids:
                lines.append(f"  {ids[prerequisite]} --> {ids[task.ref]}")
    return "\n".join(lines)


def dependency_outline(tasks: Iterable) -> list[dict]:
    """The diagram as a list for people who do not see it: each task with the titles of the
    tasks it waits on."""
    items = graph_tasks(tasks)
    titles = {task.ref: task.title for task in items}
    return [
        {"title": task.title, "stage": task.stage, "after": [titles[ref] for ref in task.depends_on if ref in titles]}
        for task in items
    ]
