"""Completeness rules (完整性): the layers a delivery must hold."""
from __future__ import annotations

from ..catalogue import implements
from . import concat, rows


@implements("completeness.layers", scope="rest")
def layers(ctx, params):
    out = []
    for key in ctx.expand(params.get("layers", [])):
        if ctx.layer_size(key) == 0:
            out.append(rows(_n=1, layer=ctx.table_name(key), geometry=None))
    return concat(out)
