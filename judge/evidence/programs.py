"""The program each sandbox-side driver runs as: ONE text, its parts first.

A driver (``drivers/``) is sent to a sandboxed interpreter as one program, followed by one
line that calls it with its payload; none imports Winnow there. The program is, in order:

1. the modules the driver imports that are registered under their own names
   (``REGISTERED``: ``sandbox.run.module_prelude``; a module may import those before it);
2. the parts whose text comes before the driver's own (``INLINE``), each also importable
   under its own name (``sys.modules`` maps the name to the program itself);
3. the driver's own text.

Which parts are registered and which are inline is not free: the sandbox's Hypothesis (the
inputs drawn from type hints) favours the literals of the program's own file, which holds
the inline parts' code but only the registered ones' text as one string. The code that was
always in the module driver's text stays inline; what was always ``driver_inputs`` stays
registered; moving a part between the two changes which inputs are drawn.

A driver that builds on another is sent after that one's program (``tests_driver`` after
``module_driver``'s, whose ``driver_loading`` it uses).
"""

from __future__ import annotations

from winnow.judge.evidence.drivers import driver_path
from winnow.judge.sandbox.run import module_prelude

#: The modules registered (in this order) before each driver's program.
REGISTERED: dict[str, tuple[str, ...]] = {
    "module_driver": ("driver_inputs", "driver_recorder", "driver_annotations"),
    "example_driver": ("driver_inputs",),
}
#: The parts whose text comes (in this order) before each driver's own.
INLINE: dict[str, tuple[str, ...]] = {
    "module_driver": ("driver_values", "driver_sessions", "driver_loading"),
    "example_driver": (),
}


def program_text(driver: str) -> str:
    """The program the sandbox runs for ``driver`` (its call still to follow): the registered
    modules, the inline parts under their own names, then the driver's own text."""
    text = "".join(module_prelude(part, driver_path(part)) for part in REGISTERED[driver])
    inline = INLINE[driver]
    if inline:
        text += (
            "import sys as _sys\n"
            f"_sys.modules.update(dict.fromkeys({inline!r}, _sys.modules[__name__]))\n"
        )
    for part in (*inline, driver):
        text += driver_path(part).read_text(encoding="utf-8")
    return text
