"""The Model zoo's block diagram: a layer table drawn as Graphviz DOT, one box per stage, and
for a ResNet every residual block (残差块) with its main path, its shortcut (捷径连接: the
identity mapping, or the projection where shapes change) and the add where they meet."""

from __future__ import annotations

from explorer.i18n import _
from explorer.models.layer_table import LayerRow, LayerTable, ResidualBlock
from explorer.models.modules import shape_text


def _summary(rows: list[LayerRow]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.type] = counts.get(row.type, 0) + 1
    parts = [f"{n}× {t}" if n > 1 else t for t, n in counts.items()]
    if len(parts) > 4:
        parts = [*parts[:3], f"+{len(parts) - 3} types"]
    return ", ".join(parts)


def _shape(shape: tuple[int, ...] | None) -> str:
    return shape_text(shape[1:]) if shape else "✗"


def _params(n: int) -> str:
    return _("{n:,} params").format(n=n)


def _block_lines(i: int, block: ResidualBlock, rows: dict[str, LayerRow], previous: str,
                 edge: str) -> list[str]:
    """A residual block: main path and shortcut from `previous`, and the add they meet at."""
    main = [rows[n] for n in block.main if n in rows]
    short = [rows[n] for n in block.shortcut if n in rows]
    main_out = next((r.output_shape for r in reversed(main) if r.output_shape), None)
    if block.identity:
        short_label = [_("shortcut: identity mapping"),
                       _("(x itself, {shape})").format(shape=_shape(block.input_shape))]
        short_out = block.input_shape
    else:
        kernel, stride = block.projection or (1, 1)
        short_label = [_("shortcut: projection"),
                       _("{k}×{k} conv, stride {s} + BatchNorm").format(k=kernel, s=stride),
                       _params(sum(r.params for r in short))]
        short_out = next((r.output_shape for r in reversed(short) if r.output_shape), None)
    main_label = [_("{name} · residual block").format(name=block.name),
                  _("main path: {layers}").format(layers=_summary(main)),
                  _params(sum(r.params for r in main))]
    main_label, short_label = "\\n".join(main_label), "\\n".join(short_label)
    return [
        f'  b{i}_main [label="{main_label}"];',
        f'  b{i}_shortcut [label="{short_label}", style="rounded,dashed,filled", '
        'fillcolor="#fff4d6"];',
        f'  b{i}_add [label="+", shape=circle, fillcolor="#e3f5e1", fontsize=14, width=0.35, '
        'fixedsize=true];',
        f'  {previous} -> b{i}_main [label=" {edge}"];',
        f'  {previous} -> b{i}_shortcut [label=" {edge}", style=dashed];',
        f'  b{i}_main -> b{i}_add [label=" {_shape(main_out)}"];',
        f'  b{i}_shortcut -> b{i}_add [label=" {_shape(short_out)}", style=dashed];',
    ]


def graph_dot(table: LayerTable, title: str = "") -> str:
    """Graphviz DOT: one box per stage (its layers and parameters), a residual block's two
    paths and their add, output shapes on the edges."""
    lines = ["digraph model {", "  rankdir=TB; nodesep=0.25; ranksep=0.3;",
             '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", '
             'fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=10, color="#555555"];',
             '  input [label="input", fillcolor="#fff4d6"];']
    previous, edge = "input", shape_text(table.input_shape)
    by_name = {r.name: r for r in table.rows}
    block_of = {r.name: b for b in table.blocks for r in table.rows  # an nn.Identity too
                if r.name.startswith(f"{b.name}.")}
    drawn: set[str] = set()
    for i, (stage, rows) in enumerate(table.stages()):
        blocks = [block_of[r.name] for r in rows if r.name in block_of]
        if blocks and len({r.name for r in rows} - set(block_of)) == 0:
            for block in dict.fromkeys(blocks):  # in forward order, each once
                if block.name in drawn:
                    continue
                j = len(drawn)
                drawn.add(block.name)
                lines += _block_lines(j, block, by_name, previous, edge)
                previous, edge = f"b{j}_add", _shape(block.output_shape)
            continue
        params = sum(r.params for r in rows)
        label = f"{stage}\\n{_summary(rows)}\\n{_params(params)}"
        fill = ', fillcolor="#fde2e2"' if any(r.output_shape is None for r in rows) else ""
        lines.append(f'  s{i} [label="{label}"{fill}];')
        lines.append(f'  {previous} -> s{i} [label=" {edge}"];')
        shape = next((r.output_shape for r in reversed(rows) if r.output_shape), None)
        previous, edge = f"s{i}", _shape(shape)
    if table.output_shape is not None and previous != "input":
        out = shape_text(table.output_shape[1:])
        lines.append(f'  logits [label="{title or "logits"}\\n{out} logits", '
                     'fillcolor="#e3f5e1"];')
        lines.append(f'  {previous} -> logits [label=" {out}"];')
    lines.append("}")
    return "\n".join(lines)
