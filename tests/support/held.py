"""What a suspended generator keeps alive: the objects its frame refers to (locals and the
value stack, where a `with` block keeps its context manager's `__exit__`), and what those
refer to, `depth` levels down. For tests that pin what every open stream holds."""

import gc
from typing import Any


def held_by_frame(generator: Any, depth: int = 2) -> list[object]:
    frame = getattr(generator, "ag_frame", None) or getattr(generator, "gi_frame", None)
    assert frame is not None, "the generator has finished: it holds nothing"
    # The generator owns its frame's data: traversing it visits the locals and the stack.
    seen: dict[int, object] = {}
    layer: list[object] = [generator]
    for _ in range(depth):
        following: list[object] = []
        for holder in layer:
            for held in gc.get_referents(holder):
                if id(held) not in seen:
                    seen[id(held)] = held
                    following.append(held)
        layer = following
    return list(seen.values())
