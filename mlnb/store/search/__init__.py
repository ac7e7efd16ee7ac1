"""The search grammar: MLflow's filter and order-by syntax, plus ``or``, ``not`` and parentheses.

``parse`` turns text into a syntax tree; ``sql`` compiles the tree to SQL with bound parameters.
The same grammar serves runs, experiments and the model registry.
"""

from mlnb.store.search.parse import (
    MAX_COMPARISONS,
    MAX_IN_VALUES,
    MAX_NESTING,
    MAX_ORDER_TERMS,
    BoolOp,
    Comparison,
    Field,
    Node,
    Not,
    OrderTerm,
    parse_filter,
    parse_order_by,
)
from mlnb.store.search.sql import (
    CompiledSQL,
    EntitySchema,
    KeyValueSource,
    compile_filter,
    compile_order_by,
)

__all__ = ["MAX_COMPARISONS", "MAX_IN_VALUES", "MAX_NESTING", "MAX_ORDER_TERMS", "BoolOp",
           "Comparison", "CompiledSQL", "EntitySchema", "Field", "KeyValueSource", "Node", "Not",
           "OrderTerm", "compile_filter", "compile_order_by", "parse_filter",
           "parse_order_by"]
