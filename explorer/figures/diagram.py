"""The Model zoo's block diagram: a layer table drawn as Graphviz DOT, one box per stage."""

from __future__ import annotations

from explorer.models.layer_table import LayerRow, LayerTable
from explorer.models.modules import shape_text


def _summary(rows: list[LayerRow]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.type] = counts.get(row.type, 0) + 1
    parts = [f"{n}× {t}" if n > 1 else t for t, n in counts.items()]
    if len(parts) > 4:
        parts = [*parts[:3], f"+{len(parts) - 3} types"]
    return ", ".join(parts)


def graph_dot(table: LayerTable, title: str = "") -> str:
    """Graphviz DOT: one box per stage (its layers and parameters), output shapes on edges."""
    lines = ["digraph model {", "  rankdir=TB; nodesep=0.25; ranksep=0.3;",
             '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", '
             'fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=10, color="#555555"];',
             '  input [label="input", fillcolor="#fff4d6"];']
    previous, edge = "input", shape_text(table.input_shape)
    for i, (stage, rows) in enumerate(table.stages()):
        params = sum(r.params for r in rows)
        label = f"{stage}\\n{_summary(rows)}\\n{params:,} params"
        fill = ', fillcolor="#fde2e2"' if any(r.output_shape is None for r in rows) else ""
        lines.append(f'  s{i} [label="{label}"{fill}];')
        lines.append(f'  {previous} -> s{i} [label=" {edge}"];')
        shape = next((r.output_shape for r in reversed(rows) if r.output_shape), None)
        previous, edge = f"s{i}", shape_text(shape[1:]) if shape else "✗"
    if table.output_shape is not None and previous != "input":
        out = shape_text(table.output_shape[1:])
        lines.append(f'  logits [label="{title or "logits"}\\n{out} logits", '
                     'fillcolor="#e3f5e1"];')
        lines.append(f'  {previous} -> logits [label=" {out}"];')
    lines.append("}")
    return "\n".join(lines)
