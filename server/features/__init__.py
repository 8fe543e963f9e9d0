"""What the user sees: inline completion, the implement code action, correctness hints.

Each feature takes a narrow Protocol of what it needs from the server (``ports.py``), not
the server object, and turns a request into a call on the models and the workspace.
``convert.py`` holds the conversions between the core's results and lsprotocol types.
"""
