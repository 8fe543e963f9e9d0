"""``winnow bench NAME``: what Winnow costs (``speed``) and how well it does where users are
(``quality``), each printing figures measured in one run. Every module of the two packages
with ``add_arguments(parser)`` and ``run(args) -> int`` is one benchmark, named by its module."""
